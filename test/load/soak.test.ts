/**
 * A short soak inside `npm test`: 500 connections for 3 s. Nothing lost or reordered, every
 * connection closed and reported once, and the heap back near its baseline afterwards.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { soak } from "./soak.js";

test("500 connections exchanging messages: nothing lost, nothing leaked", { timeout: 120_000 }, async () => {
  const report = await soak(500, 3);
  assert.equal(report.clients.opened, 500);
  assert.equal(report.peakConnections, 500);
  assert.ok(report.clients.sent > 500);
  assert.equal(report.clients.received, report.clients.sent);
  assert.equal(report.clients.lost, 0);
  assert.equal(report.clients.reordered, 0);
  assert.equal(report.clients.errors, 0);
  assert.equal(report.closes, 500);
  // Heap measured after full collections (see soak.ts): back within 5 MiB of where it started.
  assert.ok(report.heapAfterMiB - report.heapBeforeMiB < 5, JSON.stringify(report));
});
