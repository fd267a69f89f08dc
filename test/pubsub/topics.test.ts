/**
 * The topic index and the envelope without sockets: subscribers are test doubles that record the
 * bytes they were given, so frame-once (the same array for every subscriber), counts under
 * backpressure, and the broker's subscribe/unsubscribe bookkeeping can be checked exactly.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  InvalidArgumentError,
  MemoryBroker,
  Publication,
  ReadyState,
  decodeEnvelope,
  encodeEnvelope,
  type Broker,
  type BrokerTarget,
  type SendOutcome,
} from "../../src/index.js";
import { TopicIndex, type Subscriber } from "../../src/pubsub/topics.js";

class FakeSubscriber implements Subscriber {
  readyState: ReadyState = ReadyState.Open;
  /** What its backpressure policy says of the next send. */
  outcome: SendOutcome = "sent";
  readonly frames: Uint8Array[] = [];

  sendPrepared(frames: Uint8Array): SendOutcome {
    this.frames.push(frames);
    return this.outcome;
  }
}

/** A broker that records the calls it gets. */
class RecordingBroker extends MemoryBroker implements Broker {
  readonly calls: string[] = [];
  override subscribe(topic: string): void {
    this.calls.push(`+${topic}`);
  }
  override unsubscribe(topic: string): void {
    this.calls.push(`-${topic}`);
  }
}

describe("TopicIndex", () => {
  test("a message is framed once: every subscriber gets the same bytes", () => {
    const index = new TopicIndex<FakeSubscriber>();
    const subs = [new FakeSubscriber(), new FakeSubscriber(), new FakeSubscriber()];
    for (const sub of subs) index.subscribe(sub, "t");
    assert.equal(index.publish("t", "hello"), 3);
    const frame = subs[0]!.frames[0]!;
    for (const sub of subs) assert.equal(sub.frames[0], frame, "the very same Uint8Array");
    assert.deepEqual([...frame], [0x81, 5, ...Buffer.from("hello")]);
    index.publish("t", Buffer.from([1, 2]));
    assert.deepEqual([...subs[1]!.frames[1]!], [0x82, 2, 1, 2]);
  });

  test("publish skips the excluded sender and subscribers that are not open", () => {
    const index = new TopicIndex<FakeSubscriber>();
    const [sender, open, closing] = [new FakeSubscriber(), new FakeSubscriber(), new FakeSubscriber()];
    for (const sub of [sender, open, closing]) index.subscribe(sub, "t");
    closing.readyState = ReadyState.Closing;
    assert.equal(index.publish("t", "x", sender), 1);
    assert.deepEqual([sender.frames.length, open.frames.length, closing.frames.length], [0, 1, 0]);
  });

  test("a subscriber whose policy refuses the send is handed the message but not counted", () => {
    const index = new TopicIndex<FakeSubscriber>();
    const [fast, dropping, closing] = [new FakeSubscriber(), new FakeSubscriber(), new FakeSubscriber()];
    dropping.outcome = "dropped";
    closing.outcome = "backpressure";
    for (const sub of [fast, dropping, closing]) index.subscribe(sub, "t");
    assert.equal(index.publish("t", "xx"), 1);
    assert.deepEqual([fast.frames.length, dropping.frames.length, closing.frames.length], [1, 1, 1]);
  });

  test("the broker hears of a topic's first subscriber and its last leaving", async () => {
    const broker = new RecordingBroker();
    const index = new TopicIndex<FakeSubscriber>(broker);
    const [s1, s2] = [new FakeSubscriber(), new FakeSubscriber()];
    index.subscribe(s1, "a");
    index.subscribe(s2, "a");
    index.subscribe(s1, "b");
    index.unsubscribe(s1, "a");
    assert.deepEqual(broker.calls, ["+a", "+b"]);
    index.unsubscribeAll(s1);
    assert.deepEqual(broker.calls, ["+a", "+b", "-b"]);
    assert.deepEqual([...index.topicsOf(s1)], []);
    index.unsubscribe(s2, "a");
    assert.deepEqual(broker.calls, ["+a", "+b", "-b", "-a"]);
    assert.equal(index.subscriberCount("a"), 0);
    await index.close();
    index.publish("a", "after close"); // detached: nothing delivered anywhere, nothing thrown
  });

  test("indexes sharing a MemoryBroker deliver each other's messages; owned brokers are closed", async () => {
    const broker = new MemoryBroker();
    const one = new TopicIndex<FakeSubscriber>(broker);
    const two = new TopicIndex<FakeSubscriber>(broker);
    const [s1, s2] = [new FakeSubscriber(), new FakeSubscriber()];
    one.subscribe(s1, "t");
    two.subscribe(s2, "t");
    assert.equal(one.publish("t", "x"), 2);
    assert.equal(s1.frames[0], s2.frames[0], "framed once across indexes too");
    await one.close();
    assert.equal(two.publish("t", "y"), 1, "a detached index no longer receives");
  });

  test("bad arguments throw InvalidArgumentError", () => {
    const index = new TopicIndex<FakeSubscriber>();
    assert.throws(() => index.publish(1 as unknown as string, "x"), InvalidArgumentError);
    assert.throws(() => index.publish("t", 5 as unknown as string), InvalidArgumentError);
    assert.throws(() => new TopicIndex({} as unknown as Broker), InvalidArgumentError);
  });
});

describe("envelope", () => {
  test("round-trips text and binary publications with their origin", () => {
    for (const publication of [
      Publication.of("ünïcode topic", "héllo"),
      Publication.of("bin", new Uint8Array([0, 255, 7])),
      Publication.of("", ""),
    ]) {
      const decoded = decodeEnvelope(encodeEnvelope({ origin: "proc-1", publication }));
      assert.ok(decoded !== undefined);
      assert.equal(decoded.origin, "proc-1");
      assert.equal(decoded.publication.topic, publication.topic);
      assert.equal(decoded.publication.text, publication.text);
      assert.deepEqual([...decoded.publication.payload], [...publication.payload]);
      assert.deepEqual(decoded.publication.frame, publication.frame);
    }
  });

  test("bytes that are not an envelope decode to undefined", () => {
    assert.equal(decodeEnvelope(Buffer.from("hello from someone else")), undefined);
    assert.equal(decodeEnvelope(new Uint8Array([1, 0, 200, 1, 2])), undefined, "truncated origin");
    const valid = encodeEnvelope({ origin: "o", publication: Publication.of("topic", "x") });
    assert.equal(decodeEnvelope(valid.subarray(0, 9)), undefined, "truncated topic");
  });

  test("a target is any object with deliver()", () => {
    const got: string[] = [];
    const target: BrokerTarget = { deliver: (p) => (got.push(String(p.message)), 1) };
    const broker = new MemoryBroker();
    broker.attach(target);
    assert.equal(broker.publish(Publication.of("t", "hi"), { deliver: () => 0 }), 1);
    assert.deepEqual(got, ["hi"]);
  });
});
