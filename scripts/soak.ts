/**
 * `npm run soak [-- --connections N --seconds S]`: thousands of concurrent connections on
 * loopback exchanging messages for a bounded time (default 5000 connections, 20 s). Prints the
 * figures and fails if a message was lost or reordered, a connection was not closed, or the heap
 * did not return to within 5 MiB of its baseline.
 */
import { parseArgs } from "node:util";
import { soak } from "../test/load/soak.js";

const { values } = parseArgs({
  options: { connections: { type: "string", default: "5000" }, seconds: { type: "string", default: "20" } },
});
const report = await soak(Number(values.connections), Number(values.seconds));
console.log(JSON.stringify(report, null, 2));
const { clients } = report;
const problems = [
  clients.opened !== report.connections && `opened ${clients.opened} of ${report.connections}`,
  clients.received !== clients.sent && `sent ${clients.sent}, echoed ${clients.received}`,
  clients.lost > 0 && `${clients.lost} lost`,
  clients.reordered > 0 && `${clients.reordered} out of order`,
  clients.errors > 0 && `${clients.errors} client errors`,
  report.closes !== report.connections && `${report.closes} onClose for ${report.connections} connections`,
  report.heapAfterMiB - report.heapBeforeMiB > 5 &&
    `heap grew from ${report.heapBeforeMiB} to ${report.heapAfterMiB} MiB`,
].filter(Boolean);
if (problems.length > 0) {
  console.error(`soak: FAILED: ${problems.join("; ")}`);
  process.exit(1);
}
console.log(
  `soak: OK: ${report.connections} connections, ${clients.sent} messages echoed, ` +
    `${report.rssPerConnectionKiB} KiB RSS per connection, RSS ${report.rssBeforeMiB} → ${report.rssPeakMiB} → ${report.rssAfterMiB} MiB`,
);
