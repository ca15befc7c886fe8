import { test, expect, type APIRequestContext } from "@playwright/test";

const apiKey = process.env.FAULTLINE_E2E_API_KEY ?? "test-api-key";
const headers = { "X-API-Key": apiKey };

/** Posts an error through the REST API and waits until the worker has stored it. */
async function createError(request: APIRequestContext, data: object): Promise<any> {
  const created = await request.post("/api/errors", { headers, data });
  expect(created.status()).toBe(202);
  const { id } = await created.json();
  await expect.poll(async () => (await request.get(`/api/errors/${id}`, { headers })).status()).toBe(200);
  return (await request.get(`/api/errors/${id}`, { headers })).json();
}

test("an error created through the API shows on the home page, safely escaped", async ({ page, request }) => {
  const pageErrors: Error[] = [];
  page.on("pageerror", (e) => pageErrors.push(e));
  const message = `checkout failed for cart ${Date.now()} <script>window.__pwned = true</script><img src=x onerror="window.__pwned = true">`;
  const error = await createError(request, { message, level: "fatal", source: "frontend" });

  await page.goto("/");
  await expect(page).toHaveTitle("faultline");
  const row = page.locator(`tr.issue-row[data-issue-id="${error.issue_id}"]`);
  await expect(row.locator(".issue-title")).toHaveText(message);
  await expect(row.locator(".level")).toHaveText("fatal");
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
  await expect(page.locator("#issues")).toHaveAttribute("data-hydrated", "true");
  expect(Number(await page.locator("#total-errors").textContent())).toBeGreaterThanOrEqual(1);
  expect(pageErrors).toEqual([]);
});

test("an issue opens with its event and can be resolved and reopened", async ({ page, request }) => {
  const title = `payment ${Date.now()} declined`;
  const error = await createError(request, {
    message: title,
    level: "error",
    environment: "production",
    stack_trace: "Error: declined\n    at charge (billing.js:10:3)\n    at checkout (cart.js:4:1)",
    context: { tags: { region: "eu" } },
  });

  await page.goto("/");
  await page.getByRole("link", { name: title }).click();
  await expect(page).toHaveURL(new RegExp(`/issues/${error.issue_id}$`));
  await expect(page.locator("#issue-title")).toHaveText(title);
  await expect(page.locator(".stack-text")).toContainText("at charge (billing.js:10:3)");
  await expect(page.locator('[data-facet="environment"]')).toContainText("production");
  await expect(page.locator('[data-facet="environment"]')).toContainText("100%");
  await expect(page.locator('[data-facet="tag:region"]')).toContainText("eu");
  await expect(page.locator("svg.chart")).toHaveAttribute("aria-label", /^1 events, per hour/);
  await expect(page.locator("#issue")).toHaveAttribute("data-hydrated", "true");

  await page.getByRole("button", { name: "30 d" }).click();
  await expect(page.locator("svg.chart")).toHaveAttribute("aria-label", /^1 events, per day/);

  await page.getByRole("button", { name: "Resolve" }).click();
  await expect(page.locator("#issue-status")).toHaveText("resolved");
  const issue = await (await request.get(`/api/issues/${error.issue_id}`, { headers })).json();
  expect(issue.status).toBe("resolved");

  // The default list shows unresolved issues only; the status filter brings it back.
  await page.goto("/");
  await expect(page.locator(`tr.issue-row[data-issue-id="${error.issue_id}"]`)).toHaveCount(0);
  await page.locator("#filter-status").selectOption("resolved");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/status=resolved/);
  await page.getByRole("link", { name: title }).click();
  await page.getByRole("button", { name: "Reopen" }).click();
  await expect(page.locator("#issue-status")).toHaveText("unresolved");

  // Ignored until 10 more events: it says so, and the API shows the count it comes back at.
  await page.getByLabel("Ignore how long").selectOption("e10");
  await page.getByRole("button", { name: "Ignore" }).click();
  await expect(page.locator("#issue-status")).toHaveText("ignored");
  await expect(page.locator("#ignored-until")).toHaveText("until it has 11 events");
  const ignored = await (await request.get(`/api/issues/${error.issue_id}`, { headers })).json();
  expect([ignored.status, ignored.ignore_until_count]).toEqual(["ignored", 11]);
});

test("filters and pages live in the URL", async ({ page, request }) => {
  const tag = `pager${Date.now()}`;
  for (let i = 0; i < 3; i++) {
    await createError(request, { message: `${tag} failure ${i}`, fingerprint: `${tag}-${i}`, level: "warning" });
  }
  await page.goto(`/?q=${tag}&per_page=2`);
  await expect(page.locator("tr.issue-row")).toHaveCount(2);
  await expect(page.locator("#page-info")).toHaveText("1–2 of 3");
  // The totals follow the filters.
  await expect(page.locator("#total-errors")).toHaveText("3");
  await page.getByRole("link", { name: "Next →" }).click();
  await expect(page).toHaveURL(/page=2/);
  await expect(page.locator("tr.issue-row")).toHaveCount(1);
  await page.goBack();
  await expect(page.locator("tr.issue-row")).toHaveCount(2);
  await page.goto(`/?q=${tag}&level=fatal`);
  await expect(page.locator("#no-issues")).toBeVisible();
  await expect(page.locator("#total-errors")).toHaveText("0");
});
