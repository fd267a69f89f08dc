/**
 * The behaviour every broker must show, run unchanged against each (DESIGN §9: one suite, every
 * broker). Each test runs two topic servers, A and B, whose brokers come from the setup: one
 * shared `MemoryBroker`, or two `RedisBroker`s (two processes, as far as Redis can tell).
 * @module
 */
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { InvalidArgumentError, type Broker } from "../../src/index.js";
import { SubscriberClient, eventually, startTopicServer, type TopicServer } from "./fixtures.js";

const TEST = { timeout: 30_000 };

/** How a broker is made for the suite. */
export interface BrokerSetup {
  /** Brokers for servers A and B (the same one twice for an in-process broker). */
  brokers(): Promise<readonly [Broker, Broker]>;
  /** Resolves once subscriptions made so far take effect everywhere. */
  settle(brokers: readonly [Broker, Broker]): Promise<void>;
}

export function brokerSuite(name: string, setup: BrokerSetup): void {
  describe(`topics over ${name}`, () => {
    let brokers: readonly [Broker, Broker];
    let a: TopicServer;
    let b: TopicServer;
    let clients: SubscriberClient[] = [];
    let counter = 0;
    /** A topic no other test uses. */
    const fresh = (label: string): string => `${label}-${++counter}`;
    const connect = async (server: TopicServer, id: string, topics: string[]): Promise<SubscriberClient> => {
      const client = await SubscriberClient.connect(server.urlFor(id, topics));
      clients.push(client);
      return client;
    };
    const settle = (): Promise<void> => setup.settle(brokers);

    before(async () => {
      brokers = await setup.brokers();
      a = await startTopicServer(brokers[0]);
      b = await startTopicServer(brokers[1]);
    });

    after(async () => {
      await Promise.all(clients.map((client) => client.close()));
      clients = [];
      await a.close();
      await b.close();
      await Promise.all([...new Set(brokers)].map((broker) => broker.close()));
    });

    test("subscribe, unsubscribe, isSubscribed and topics report membership", TEST, async () => {
      const topic = fresh("membership");
      await connect(a, "m1", []);
      const channel = a.channel("m1");
      assert.equal(channel.isSubscribed(topic), false);
      assert.equal(channel.subscribe(topic), true);
      assert.equal(channel.subscribe(topic), false, "already subscribed");
      assert.equal(channel.subscribe(`${topic}/other`), true);
      assert.equal(channel.isSubscribed(topic), true);
      assert.deepEqual([...channel.topics].sort(), [topic, `${topic}/other`]);
      assert.equal(a.handler.subscriberCount(topic), 1);
      assert.equal(channel.unsubscribe(topic), true);
      assert.equal(channel.unsubscribe(topic), false, "no longer subscribed");
      assert.equal(channel.isSubscribed(topic), false);
      assert.deepEqual([...channel.topics], [`${topic}/other`]);
      assert.equal(a.handler.subscriberCount(topic), 0);
      assert.equal(b.handler.subscriberCount(topic), 0);
    });

    test("handler.publish reaches every subscriber on both servers exactly once", TEST, async () => {
      const topic = fresh("all");
      const subs = [
        await connect(a, "all-a1", [topic]),
        await connect(a, "all-a2", [topic]),
        await connect(b, "all-b1", [topic]),
      ];
      const bystander = await connect(b, "all-b2", [fresh("elsewhere")]);
      await settle();
      // The count is of subscribers in this process: all three when A and B share one broker.
      const shared = brokers[0] === brokers[1];
      assert.equal(a.handler.publish(topic, "hello"), shared ? 3 : 2);
      assert.equal(b.handler.publish(topic, new Uint8Array([0, 1, 2, 255])), shared ? 3 : 1);
      assert.equal(a.handler.publish(topic, "end"), shared ? 3 : 2);
      // A's and B's messages travel on different Redis connections: no order between them, so
      // wait for both (regression: waiting for A's last message alone raced B's).
      for (const sub of subs) {
        await sub.waitUntil(
          () => sub.messages.includes("end") && sub.messages.some((m) => typeof m !== "string"),
          "end marker and binary",
        );
      }
      for (const sub of subs) {
        // A's messages keep A's order; B's binary message falls somewhere among them.
        assert.deepEqual(sub.texts, ["hello", "end"]);
        const binary = sub.messages.filter((m): m is Buffer => typeof m !== "string");
        assert.deepEqual(binary, [Buffer.from([0, 1, 2, 255])], "binary arrives as binary");
        assert.equal(sub.messages.length, 3, "nothing twice");
      }
      assert.deepEqual(bystander.messages, []);
    });

    test("channel.publish skips the sender, subscribed or not", TEST, async () => {
      const topic = fresh("others");
      const author = await connect(a, "o-author", [topic]);
      const peer = await connect(a, "o-peer", [topic]);
      const remote = await connect(b, "o-remote", [topic]);
      const outsider = await connect(b, "o-outsider", []);
      await settle();
      const shared = brokers[0] === brokers[1];
      assert.equal(a.channel("o-author").publish(topic, "from author"), shared ? 2 : 1);
      assert.equal(b.channel("o-outsider").publish(topic, "from outsider"), shared ? 3 : 1);
      await peer.waitFor(2);
      await remote.waitFor(2);
      await author.waitFor(1);
      // Give a duplicate or an echo to the author time to show up before the final check.
      assert.equal(a.handler.publish(topic, "end"), shared ? 3 : 2);
      for (const sub of [author, peer, remote]) await sub.waitUntil(() => sub.texts.includes("end"), "end");
      assert.deepEqual(author.texts, ["from outsider", "end"]);
      assert.deepEqual(peer.texts.sort(), ["end", "from author", "from outsider"]);
      assert.deepEqual(remote.texts.sort(), ["end", "from author", "from outsider"]);
      assert.deepEqual(outsider.messages, []);
    });

    test("messages keep each publisher's order, each delivered once", TEST, async () => {
      const topic = fresh("order");
      const subs = [await connect(a, "ord-a", [topic]), await connect(b, "ord-b", [topic])];
      await settle();
      const count = 300;
      for (let i = 0; i < count; i++) {
        a.handler.publish(topic, `a:${i}`);
        b.handler.publish(topic, `b:${i}`);
      }
      for (const sub of subs) {
        await sub.waitFor(2 * count);
        const texts = sub.texts;
        assert.deepEqual(
          texts.filter((t) => t.startsWith("a:")),
          Array.from({ length: count }, (_, i) => `a:${i}`),
        );
        assert.deepEqual(
          texts.filter((t) => t.startsWith("b:")),
          Array.from({ length: count }, (_, i) => `b:${i}`),
        );
      }
      a.handler.publish(topic, "end");
      for (const sub of subs) await sub.waitUntil(() => sub.texts.includes("end"), "end");
      for (const sub of subs) assert.equal(sub.messages.length, 2 * count + 1);
    });

    test("unsubscribing stops delivery", TEST, async () => {
      const topic = fresh("leave");
      const stays = await connect(b, "l-stays", [topic]);
      const leaves = await connect(b, "l-leaves", [topic]);
      await settle();
      a.handler.publish(topic, "one");
      await stays.waitFor(1);
      await leaves.waitFor(1);
      assert.equal(b.channel("l-leaves").unsubscribe(topic), true);
      await settle();
      a.handler.publish(topic, "two");
      await stays.waitFor(2);
      assert.deepEqual(stays.texts, ["one", "two"]);
      assert.deepEqual(leaves.texts, ["one"]);
    });

    test("a connection leaves all its topics when it closes", TEST, async () => {
      const [t1, t2] = [fresh("closing"), fresh("closing")];
      const client = await connect(a, "c-closing", [t1, t2]);
      const channel = a.channel("c-closing");
      assert.equal(a.handler.subscriberCount(t1), 1);
      await client.close();
      await eventually(() => a.handler.subscriberCount(t1) === 0, "subscriber removed on close");
      assert.equal(a.handler.subscriberCount(t2), 0);
      assert.deepEqual([...channel.topics], []);
      assert.equal(channel.subscribe(t1), false, "a closed channel cannot subscribe");
      assert.equal(a.handler.publish(t1, "nobody"), 0);
    });

    test("bad arguments throw InvalidArgumentError", TEST, async () => {
      await connect(a, "bad", []);
      const channel = a.channel("bad");
      assert.throws(() => channel.subscribe(42 as unknown as string), InvalidArgumentError);
      assert.throws(() => a.handler.publish("t", { text: "no" } as unknown as string), InvalidArgumentError);
      assert.throws(() => channel.publish(undefined as unknown as string, "x"), InvalidArgumentError);
    });
  });
}
