/**
 * Shared launch settings for the browser tests: Debian's Chromium driven by `playwright-core`,
 * headless, without a sandbox, GPU, QUIC or any background networking. `chromium.launch()` gives
 * the browser a fresh temporary profile (`--user-data-dir`) and removes it on close; each test
 * opens what it needs as separate browser contexts (separate cookies and localStorage).
 */
import { chromium, type Browser, type Page } from "playwright-core";
import { program } from "../helpers/programs.js";

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Starts headless Chromium; close it with `browser.close()`. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: program("chromium"),
    headless: true,
    timeout: 60_000,
    args: CHROMIUM_ARGS,
  });
}

/** A page in a new browser context, with bounded default timeouts. */
export async function newPage(
  browser: Browser,
  options: {
    viewport?: { width: number; height: number };
    phone?: boolean;
    ignoreHTTPSErrors?: boolean;
  } = {},
): Promise<Page> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1000, height: 700 },
    // A test server's self-signed certificate.
    ignoreHTTPSErrors: options.ignoreHTTPSErrors ?? false,
    ...(options.phone === true ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.setDefaultNavigationTimeout(30_000);
  return page;
}
