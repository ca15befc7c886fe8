import { test, expect } from "@playwright/test";
import http from "node:http";
import type { AddressInfo } from "node:net";

// An admin sets up alerts in the dashboard: a webhook channel (its signing secret shown once)
// and a rule; an error sets it off; the delivery shows in the channel's log; Send test shows
// the receiver's real answer.

const headers = { "X-API-Key": process.env.FAULTLINE_E2E_API_KEY ?? "test-api-key" };

test("a webhook channel and a rule made in the dashboard deliver an alert that shows in the log", async ({ page, request }) => {
  const stamp = Date.now();
  const received: { body: string; signature: string | undefined }[] = [];
  const receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      received.push({ body, signature: req.headers["webhook-signature"] as string | undefined });
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("thanks");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const port = (receiver.address() as AddressInfo).port;
  const name = `e2e hook ${stamp}`;

  await page.goto("/alerts");
  await expect(page.locator("#alerts")).toHaveAttribute("data-hydrated", "true");
  await page.locator("#channel-kind").selectOption("webhook");
  await page.locator("#channel-name").fill(name);
  await page.locator("#channel-url").fill(`http://127.0.0.1:${port}/hook`);
  await page.getByRole("button", { name: "Add channel" }).click();
  await expect(page.locator("#webhook-secret")).toHaveValue(/^whsec_/);
  const row = page.locator("tr.channel-row", { hasText: name });
  await expect(row).toContainText("ok");

  await page.locator("#rule-name").fill(`e2e rule ${stamp}`);
  await page.locator("#rule-regression").uncheck();
  await page.getByLabel(name, { exact: true }).check();
  await page.locator("#rule-cooldown").fill("0");
  await page.getByRole("button", { name: "Add rule" }).click();
  await expect(page.locator("tr.rule-row", { hasText: `e2e rule ${stamp}` })).toContainText("a new issue");

  const sent = await request.post("/api/errors", { headers, data: { message: `e2e alert ${stamp}`, level: "error" } });
  expect(sent.status()).toBe(202);
  await expect.poll(() => received.filter((r) => r.body.includes(`e2e alert ${stamp}`)).length, { timeout: 15_000 }).toBe(1);
  const alert = JSON.parse(received.find((r) => r.body.includes(`e2e alert ${stamp}`))!.body);
  expect(alert.trigger).toBe("new_issue");
  expect(alert.issue.url).toMatch(/\/issues\/\d+$/);
  expect(received.find((r) => r.body.includes(`e2e alert ${stamp}`))!.signature).toMatch(/^v1,/);

  // The log shows it delivered, with the receiver's answer.
  await row.getByRole("button", { name: "Deliveries" }).click();
  const log = page.locator("div.delivery-log");
  await expect(async () => {
    await log.getByRole("button", { name: "Refresh" }).click();
    await expect(log.locator("tr.delivery-row").first()).toContainText("delivered", { timeout: 1_000 });
  }).toPass({ timeout: 10_000 });
  await expect(log.locator("tr.delivery-row").first()).toContainText("New issue");
  await expect(log.locator("tr.delivery-row").first()).toContainText("HTTP 200");

  // Send test delivers through the same path and shows what the receiver said.
  await row.getByRole("button", { name: "Send test" }).click();
  await expect(page.locator("tr.test-result")).toContainText("Test delivered");
  await expect(page.locator("tr.test-result")).toContainText("HTTP 200 · answer: thanks");
  receiver.close();
});
