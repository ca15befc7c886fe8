import { test, expect } from "@playwright/test";
import { adminEmail, adminPassword, signedInBrowser } from "../global-setup";

test("the account page renames the user and ends another of their sessions", async ({ page, browser, baseURL }) => {
  // A second browser signs in as the same user.
  const otherPage = await signedInBrowser(browser, baseURL, adminEmail, adminPassword);
  const other = otherPage.context();

  await page.goto("/account");
  await expect(page.locator("#account")).toHaveAttribute("data-hydrated", "true");
  const name = `Ada ${Date.now()}`;
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByRole("button", { name: "Save name" }).click();
  await expect(page.getByRole("status")).toHaveText("Name saved.");
  await page.reload();
  await expect(page.locator(".topbar .user")).toHaveText(name);
  await expect(page.locator("#account")).toHaveAttribute("data-hydrated", "true");

  const rows = page.locator("tr.session-row");
  await expect(page.locator('tr.session-row[data-current="true"]')).toHaveCount(1);
  const before = await rows.count();
  expect(before).toBeGreaterThanOrEqual(2);
  // The newest other session is the second browser's (most recently used first).
  await page.locator('tr.session-row[data-current="false"]').first().getByRole("button", { name: "End session" }).click();
  await expect(rows).toHaveCount(before - 1);

  await otherPage.goto("/settings");
  await expect(otherPage).toHaveURL(/\/login\?next=\/settings$/);
  await other.close();
});

test("a personal API token made on the account page works on the REST API until revoked, and the audit log shows both", async ({
  page,
  request,
}) => {
  await page.goto("/account");
  await expect(page.locator("#account")).toHaveAttribute("data-hydrated", "true");
  const name = `deploy ${Date.now()}`;
  await page.getByLabel("Token name").fill(name);
  await page.getByLabel("Scope").selectOption("write");
  await page.getByRole("button", { name: "Create token" }).click();
  const field = page.locator("#new-token");
  await expect(field).toHaveValue(/^flu_[0-9a-f]{64}$/);
  const token = await field.inputValue();
  const auth = { Authorization: `Bearer ${token}` };
  expect((await request.get("/api/stats?project_id=1", { headers: auth })).status()).toBe(200);
  const row = page.locator("tr.token-row", { hasText: name });
  await expect(row).toContainText("write");
  await expect(row).not.toContainText(token.slice(12));

  await row.getByRole("button", { name: `Revoke token ${name}` }).click();
  await expect(row).toHaveCount(0);
  expect((await request.get("/api/stats?project_id=1", { headers: auth })).status()).toBe(401);

  // The audit log, filtered in its form, shows who made and revoked it.
  await page.goto("/audit");
  await expect(page.locator("#audit")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Action").selectOption("token_create");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/action=token_create/);
  const made = page.locator("tr.audit-row", { hasText: name });
  await expect(made).toBeVisible();
  await expect(made).toContainText(adminEmail);
  await expect(page.locator('tr.audit-row[data-action="token_revoke"]')).toHaveCount(0);
  await page.getByLabel("Action").selectOption("token_revoke");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page.locator('tr.audit-row[data-action="token_revoke"]').first()).toBeVisible();
});
