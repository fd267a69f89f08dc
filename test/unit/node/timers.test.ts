import { test } from "node:test";
import assert from "node:assert/strict";
import { IdleSweeper, type IdleClock as Clock, type IdleTarget } from "../../../src/core/timers.js";

/** A clock whose intervals run only when the test says so. */
function fakeClock() {
  const intervals = new Set<{ callback: () => void; ms: number; unref(): void }>();
  const clock: Clock = {
    setInterval(callback, ms) {
      const handle = { callback, ms, unref() {} };
      intervals.add(handle);
      return handle;
    },
    clearInterval(handle) {
      intervals.delete(handle as { callback: () => void; ms: number; unref(): void });
    },
  };
  return { clock, intervals, tick: () => intervals.forEach((i) => i.callback()) };
}

function target(): IdleTarget & { pings: number; expired: number } {
  return {
    idleTicks: 0,
    pings: 0,
    expired: 0,
    idlePing() {
      this.pings++;
    },
    idleExpired() {
      this.expired++;
    },
  };
}

test("a silent connection is pinged at half the timeout and dropped at the whole", () => {
  const { clock, intervals, tick } = fakeClock();
  const sweeper = new IdleSweeper(1000, clock);
  const quiet = target();
  sweeper.add(quiet);
  assert.equal([...intervals][0]!.ms, 250, "four sweeps per timeout");
  tick();
  assert.deepEqual([quiet.pings, quiet.expired], [0, 0]);
  tick();
  assert.deepEqual([quiet.pings, quiet.expired], [1, 0]);
  tick();
  tick();
  assert.deepEqual([quiet.pings, quiet.expired], [1, 1]);
});

test("input resets the count; the interval stops with the last connection", () => {
  const { clock, intervals, tick } = fakeClock();
  const sweeper = new IdleSweeper(1000, clock);
  const chatty = target();
  sweeper.add(chatty);
  for (let i = 0; i < 10; i++) {
    tick();
    chatty.idleTicks = 0; // a read
  }
  assert.deepEqual([chatty.pings, chatty.expired], [0, 0]);
  sweeper.delete(chatty);
  assert.equal(intervals.size, 0);
});

test("timeout 0 disables the sweeper", () => {
  const { clock, intervals } = fakeClock();
  new IdleSweeper(0, clock).add(target());
  assert.equal(intervals.size, 0);
});

test("timeout Infinity disables the sweeper: no interval Node would clamp to 1 ms", () => {
  const { clock, intervals } = fakeClock();
  const sweeper = new IdleSweeper(Infinity, clock);
  const quiet = target();
  sweeper.add(quiet);
  assert.equal(intervals.size, 0);
  sweeper.delete(quiet);
});

test("the sweep interval is never below 1 ms", () => {
  const { clock, intervals } = fakeClock();
  new IdleSweeper(2, clock).add(target());
  assert.equal([...intervals][0]!.ms, 1);
});
