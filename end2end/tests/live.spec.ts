import { test, expect } from "@playwright/test";

const headers = { "X-API-Key": process.env.FAULTLINE_E2E_API_KEY ?? "test-api-key" };

test("new errors and status changes appear on an open page without a reload", async ({ page, request }) => {
  await page.goto("/");
  await expect(page.locator("#issues")).toHaveAttribute("data-hydrated", "true");
  await expect(page.locator("#live-state")).toHaveText("live");
  const before = Number(await page.locator("#total-errors").textContent());
  let reloaded = false;
  page.on("framenavigated", (f) => { if (f === page.mainFrame()) reloaded = true; });

  const title = `live arrival ${Date.now()}`;
  const created = await request.post("/api/errors", { headers, data: { message: title, level: "error" } });
  expect(created.status()).toBe(202);
  const row = page.locator("tr.issue-row", { hasText: title });
  await expect(row).toBeVisible({ timeout: 5_000 });
  await expect(row).toHaveClass(/fresh/);
  await expect(page.locator("tr.issue-row").first()).toContainText(title);
  await expect(page.locator("#total-errors")).toHaveText(String(before + 1));

  // Resolved elsewhere: it leaves the (unresolved) list.
  const issueId = await row.getAttribute("data-issue-id");
  await request.put(`/api/issues/${issueId}/resolve`, { headers });
  await expect(row).toHaveCount(0, { timeout: 5_000 });

  // Paused: nothing moves until resumed.
  await page.getByRole("button", { name: "Pause" }).click();
  await expect(page.locator("#live-state")).toHaveText("paused");
  const later = `while paused ${Date.now()}`;
  await request.post("/api/errors", { headers, data: { message: later } });
  // The update arrives (the page says so) but the list does not move.
  await expect(page.locator("#live-missed")).toBeVisible({ timeout: 5_000 });
  await expect(page.locator("tr.issue-row", { hasText: later })).toHaveCount(0);
  await page.getByRole("button", { name: "Resume" }).click();
  await expect(page.locator("tr.issue-row", { hasText: later })).toBeVisible({ timeout: 5_000 });
  expect(reloaded).toBe(false);
});
