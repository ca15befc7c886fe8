// Seeds a small team's data and photographs the signed-in dashboard (see scripts/screenshots.sh).
// Usage: FAULTLINE_E2E_URL=http://… node screenshots.mjs <output directory>
import { chromium } from "@playwright/test";
import { execFileSync } from "node:child_process";

const base = process.env.FAULTLINE_E2E_URL;
const out = process.argv[2];
const token = process.env.FAULTLINE_ADMIN_TOKEN;
const bearer = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };

async function api(method, path, body, headers = bearer) {
  const res = await fetch(base + path, { method, headers, body: body && JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? null : res.json();
}

// Two projects, a teammate, and errors in both (the SDK's and the REST API's).
const checkout = await api("POST", "/api/projects", { name: "Checkout API" });
const invited = await api("POST", "/api/users", { email: "grace@example.com", role: "member" });
await api("PUT", `/api/projects/${checkout.id}/members/${invited.id}`, { role: "member" });
const defaultDsn = (await api("GET", "/api/projects")).projects.find((p) => p.slug === "default").dsn;
execFileSync("node", ["sdk/node_app.mjs", defaultDsn], { stdio: "inherit" });
execFileSync("node", ["sdk/node_app.mjs", checkout.dsn], { stdio: "inherit" });
const key = { "X-API-Key": checkout.api_key, "Content-Type": "application/json" };
const messages = [
  ["fatal", "OutOfMemoryError: cart service heap exhausted"],
  ["error", "payment 4242 declined by the gateway"],
  ["warning", "slow query: orders by customer took 2.4 s"],
  ["error", "KeyError: 'shipping_address'"],
];
for (const [level, message] of messages) {
  for (let i = 0; i < 3; i++) {
    await api("POST", "/api/errors", { message, level, source: "backend", environment: "production", release: "checkout@2.3.1" }, key);
  }
}
await new Promise((r) => setTimeout(r, 2000));

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: ["--headless", "--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, colorScheme: "light" });
page.setDefaultTimeout(20_000);
page.on("pageerror", (e) => console.error("page error:", e.message));
await page.goto(`${base}/login`);
await page.locator('#login[data-hydrated="true"]').waitFor();
await page.getByLabel("Email").fill(process.env.FAULTLINE_ADMIN_EMAIL);
await page.getByLabel("Password").fill(process.env.FAULTLINE_ADMIN_PASSWORD);
await page.getByRole("button", { name: "Sign in" }).click();
await page.locator('#issues[data-hydrated="true"]').waitFor();

async function shot(path, ready, file, fullPage = false) {
  await page.goto(base + path);
  await page.locator(ready).first().waitFor();
  await page.waitForTimeout(500);
  await page.screenshot({ path: `${out}/${file}`, fullPage });
  console.log(`${out}/${file}`);
}
await shot("/", "tr.issue-row", "issues.png");
const first = await page.locator("tr.issue-row a.issue-title").first().getAttribute("href");
await shot(first, "#issue-title", "issue.png");
await shot("/projects", "tr.project-row", "projects.png");
await shot(`/settings?project=${checkout.slug}`, "tr.member-row", "settings.png", true);
await shot("/users", "tr.user-row", "users.png");
await shot("/audit", "tr.audit-row", "audit.png");
await browser.close();
