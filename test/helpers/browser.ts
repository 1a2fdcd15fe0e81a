import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser, type BrowserContext } from "playwright-core";

// A real browser for the buyers' page: Debian's Chromium driven by playwright-core, headless,
// with the flags that keep it from reaching out to the network (FACTS.md) and a fresh profile.

export const CHROMIUM = process.env.PAIDUP_CHROMIUM ?? "/usr/bin/chromium";

export interface TestBrowser {
  browser: Browser;
  context: BrowserContext;
  /** Where screenshots and downloads of this run go: a temp folder, never the repository. */
  outDir: string;
  close(): Promise<void>;
}

export function chromiumAvailable(): boolean {
  return fs.existsSync(CHROMIUM);
}

/** `javaScriptEnabled: false` checks that a page works without JavaScript. */
export async function launchBrowser(opts: { javaScriptEnabled?: boolean } = {}): Promise<TestBrowser> {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "paidup-browser-"));
  const profile = path.join(outDir, "profile");
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    javaScriptEnabled: opts.javaScriptEnabled ?? true,
    viewport: { width: 390, height: 844 }, // a phone: the page must read well there
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--no-first-run",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
  return {
    browser: context.browser() as Browser,
    context,
    outDir,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
