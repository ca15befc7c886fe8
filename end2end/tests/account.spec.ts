import { test, expect } from "@playwright/test";
import { adminEmail, adminPassword } from "../global-setup";

test("the account page renames the user and ends another of their sessions", async ({ page, browser, baseURL }) => {
  // A second browser signs in as the same user.
  const other = await browser.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
  const otherPage = await other.newPage();
  await otherPage.goto("/login");
  await expect(otherPage.locator("#login")).toHaveAttribute("data-hydrated", "true");
  await otherPage.getByLabel("Email").fill(adminEmail);
  await otherPage.getByLabel("Password").fill(adminPassword);
  await otherPage.getByRole("button", { name: "Sign in" }).click();
  await expect(otherPage.locator("#issues")).toBeVisible();

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
