// Signs in once as the e2e admin (set by scripts/e2e.sh) through the login form and keeps the
// session for every spec; specs about signing in start from an empty browser instead.
import { chromium, expect, type Browser, type FullConfig, type Page } from "@playwright/test";

export const adminEmail = process.env.FAULTLINE_E2E_ADMIN_EMAIL ?? "e2e-admin@example.com";
export const adminPassword = process.env.FAULTLINE_E2E_ADMIN_PASSWORD ?? "e2e admin password";
export const storageState = "test-results/.auth/admin.json";

/** Signs in through the login form on `page` (already on /login) and waits for the issues. */
export async function signInHere(page: Page, email: string, password: string) {
  await expect(page.locator("#login")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator("#issues")).toBeVisible();
}

/** A browser of its own (no cookies), signed in as `email`. */
export async function signedInBrowser(browser: Browser, baseURL: string | undefined, email: string, password: string) {
  const context = await browser.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
  const page = await context.newPage();
  await page.goto("/login");
  await signInHere(page, email, password);
  return page;
}

export default async function globalSetup(config: FullConfig) {
  const { baseURL, launchOptions } = config.projects[0].use;
  const browser = await chromium.launch(launchOptions);
  const page = await browser.newPage({ baseURL });
  await page.goto("/");
  await expect(page).toHaveURL(/\/login\?next=\/$/);
  await signInHere(page, adminEmail, adminPassword);
  await page.context().storageState({ path: storageState });
  await browser.close();
}
