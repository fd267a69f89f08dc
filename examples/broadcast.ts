/**
 * A live ticker: every client subscribes to the prices of the symbols in its URL and gets each
 * update as it is published, framed once for all of them. Slow readers are handled by the
 * `drop` backpressure policy: a client more than 256 KiB behind misses updates (the next one
 * supersedes them anyway) instead of growing the server's memory or being disconnected.
 *
 *   node --import tsx examples/broadcast.ts
 *   # then: npx wscat -c 'ws://127.0.0.1:8080/?symbols=ACME,INITECH'
 */
import { handshake, serve } from "undercurrent";

const port = Number(process.env["PORT"] ?? 8080);
const symbols = ["ACME", "INITECH", "UMBRELLA", "HOOLI"];
const prices = new Map(symbols.map((symbol) => [symbol, 100]));

const ticker = handshake(
  {
    onConnect({ channel, exchange }) {
      const wanted = exchange.url.searchParams.get("symbols")?.split(",") ?? symbols;
      for (const symbol of wanted) if (prices.has(symbol)) channel.subscribe(`price:${symbol}`);
      void channel.sendText(JSON.stringify({ subscribed: [...channel.topics] }));
    },
    onMessage({ channel, text }) {
      // A client may also change its mind: "+HOOLI" or "-ACME".
      if (text?.startsWith("+")) channel.subscribe(`price:${text.slice(1)}`);
      else if (text?.startsWith("-")) channel.unsubscribe(`price:${text.slice(1)}`);
    },
  },
  { backpressure: "drop", maxBackpressure: 256 * 1024 },
);

const server = await serve(ticker, { port });
console.log(`ticker on ${server.url}/?symbols=${symbols.join(",")}`);

const timer = setInterval(() => {
  for (const [symbol, price] of prices) {
    const next = Math.max(1, price + (Math.random() - 0.5) * 2);
    prices.set(symbol, next);
    const topic = `price:${symbol}`;
    if (ticker.subscriberCount(topic) === 0) continue; // nobody is watching: skip the JSON
    ticker.publish(topic, JSON.stringify({ symbol, price: Number(next.toFixed(2)), at: Date.now() }));
  }
}, 100);

process.on("SIGINT", async () => {
  clearInterval(timer);
  await server.close();
  process.exit(0);
});
