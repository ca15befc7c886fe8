// Signs in once as the e2e admin (set by scripts/e2e.sh) through the login form and keeps the
// session for every spec; specs about signing in start from an empty browser instead.
import { chromium, expect, type FullConfig } from "@playwright/test";

export const adminEmail = process.env.FAULTLINE_E2E_ADMIN_EMAIL ?? "e2e-admin@example.com";
export const adminPassword = process.env.FAULTLINE_E2E_ADMIN_PASSWORD ?? "e2e admin password";
export const storageState = "test-results/.auth/admin.json";

export default async function globalSetup(config: FullConfig) {
  const { baseURL, launchOptions } = config.projects[0].use;
  const browser = await chromium.launch(launchOptions);
  const page = await browser.newPage({ baseURL });
  await page.goto("/");
  await expect(page).toHaveURL(/\/login\?next=\/$/);
  await expect(page.locator("#login")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Email").fill(adminEmail);
  await page.getByLabel("Password").fill(adminPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator("#issues")).toBeVisible();
  await page.context().storageState({ path: storageState });
  await browser.close();
}
