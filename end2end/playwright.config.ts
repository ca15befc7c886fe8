import { defineConfig } from "@playwright/test";
import { storageState } from "./global-setup";

// The server is started by scripts/e2e.sh, which passes its address in FAULTLINE_E2E_URL.
const baseURL = process.env.FAULTLINE_E2E_URL ?? "http://127.0.0.1:3000";

export default defineConfig({
  testDir: "./tests",
  globalSetup: "./global-setup.ts",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: "list",
  use: {
    baseURL,
    // Signed in as the e2e admin (global-setup.ts).
    storageState,
    browserName: "chromium",
    trace: "off",
    launchOptions: {
      // Debian's Chromium: Playwright must never download a browser.
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
});
