/**
 * Compressed fan-out (issue 6): a published message is compressed once for every subscriber
 * whose permessage-deflate agreement lets compressed bytes be shared (no server context
 * takeover, same window), and goes uncompressed to the others.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { handshake, serve, Publication } from "../../src/index.js";
import { RawClient } from "../helpers/raw-client.js";
import { sharedDeflate } from "../../src/adapters/node/zlib.js";

test("publish compresses once for no-context-takeover subscribers, plain for the rest", async (t) => {
  const handler = handshake(
    {
      onConnect({ channel }) {
        channel.subscribe("news");
        void channel.sendText("subscribed", { compress: false });
      },
    },
    { compression: true },
  );
  const server = await serve(handler, { port: 0 });
  t.after(() => server.close());
  const connect = async (extensions?: string) => {
    const client = await RawClient.connect(server.url, extensions === undefined ? {} : { extensions });
    assert.equal((await client.nextMessage()).payload.toString(), "subscribed");
    return client;
  };
  const shared = [
    await connect("permessage-deflate; server_no_context_takeover"),
    await connect("permessage-deflate; server_no_context_takeover"),
  ];
  const takeover = await connect("permessage-deflate");
  const plain = await connect();

  const message = "the same words, again and again. ".repeat(100);
  assert.equal(handler.publish("news", message), 4);
  for (const client of shared) {
    const received = await client.nextMessage();
    assert.equal(received.compressed, true);
    assert.equal(received.payload.toString(), message);
  }
  for (const client of [takeover, plain]) {
    const received = await client.nextMessage();
    assert.equal(received.compressed, false);
    assert.equal(received.payload.toString(), message);
  }
  // Small messages stay below the threshold and go uncompressed to everyone.
  handler.publish("news", "hi");
  for (const client of [...shared, takeover, plain]) {
    const received = await client.nextMessage();
    assert.deepEqual([received.compressed, received.payload.toString()], [false, "hi"]);
  }
  for (const client of [...shared, takeover, plain]) client.destroy();
});

test("a publication's compressed frame is built once per agreement and shared", () => {
  const publication = Publication.of("t", "x".repeat(5000));
  const settings = sharedDeflate(15, 8, 1024);
  const first = publication.frameFor(settings);
  assert.equal(publication.frameFor({ ...settings }), first, "same bytes for an equal agreement");
  assert.equal(first[0], 0xc1, "FIN, RSV1, text");
  assert.ok(first.length < 200);
  assert.equal(publication.frameFor(undefined), publication.frame);
  assert.equal(publication.frameFor({ ...settings, threshold: 10_000 }), publication.frame);
});
