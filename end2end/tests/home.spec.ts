import { test, expect } from "@playwright/test";

const apiKey = process.env.FAULTLINE_E2E_API_KEY ?? "test-api-key";

test("an error created through the API shows on the home page", async ({ page, request }) => {
  const pageErrors: Error[] = [];
  page.on("pageerror", (e) => pageErrors.push(e));

  const message = `checkout failed for cart ${Date.now()} <script>window.__pwned = true</script>`;
  const created = await request.post("/api/errors", {
    headers: { "X-API-Key": apiKey },
    data: { message, level: "fatal", source: "frontend" },
  });
  expect(created.status()).toBe(202);
  const { id } = await created.json();

  // The worker stores it within moments; wait until the API returns it.
  await expect
    .poll(async () => (await request.get(`/api/errors/${id}`, { headers: { "X-API-Key": apiKey } })).status())
    .toBe(200);

  await page.goto("/");
  await expect(page).toHaveTitle("faultline");
  const row = page.locator("li.error-row", { hasText: message });
  await expect(row).toBeVisible();
  await expect(row.locator(".level")).toHaveText("fatal");
  // Event text is rendered as text, never as markup.
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();

  // The page hydrates; Refresh (a server function call from the browser) shows a newer error.
  await expect(page.locator("#home")).toHaveAttribute("data-hydrated", "true");
  const total = Number(await page.locator("#total-errors").textContent());
  expect(total).toBeGreaterThanOrEqual(1);
  const later = `later error ${Date.now()}`;
  const second = await request.post("/api/errors", { headers: { "X-API-Key": apiKey }, data: { message: later } });
  const secondId = (await second.json()).id;
  await expect
    .poll(async () => (await request.get(`/api/errors/${secondId}`, { headers: { "X-API-Key": apiKey } })).status())
    .toBe(200);
  await page.getByRole("button", { name: "Refresh" }).click();
  await expect(page.locator("li.error-row", { hasText: later })).toBeVisible();
  await expect(page.locator("#total-errors")).toHaveText(String(total + 1));
  expect(pageErrors).toEqual([]);
});
