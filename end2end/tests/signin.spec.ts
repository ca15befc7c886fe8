import { test, expect, type Page } from "@playwright/test";
import { adminEmail, adminPassword } from "../global-setup";

// These start from an empty browser: no session.
test.use({ storageState: { cookies: [], origins: [] } });

async function signIn(page: Page, email: string, password: string) {
  await expect(page.locator("#login")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

test("a visitor signs in, lands on the page they asked for, and signs out; back shows no data", async ({ page }) => {
  await page.goto("/settings");
  await expect(page).toHaveURL(/\/login\?next=\/settings$/);
  await expect(page.locator("#dsn")).toHaveCount(0);
  await signIn(page, adminEmail, adminPassword);
  await expect(page).toHaveURL(/\/settings$/);
  await expect(page.locator("#dsn")).toHaveValue(/^http/);
  const cookie = (await page.context().cookies()).find((c) => c.name === "faultline_session");
  expect(cookie?.httpOnly).toBe(true);
  expect(cookie?.sameSite).toBe("Lax");

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goBack();
  // The settings page is not shown again from a cache: the server sends the browser to sign in.
  await expect(page).toHaveURL(/\/login/);
  await expect(page.locator("#dsn")).toHaveCount(0);
  await page.goto("/settings");
  await expect(page).toHaveURL(/\/login\?next=\/settings$/);
});

test("a wrong password is refused with a message and no session", async ({ page }) => {
  await page.goto("/login");
  await signIn(page, adminEmail, "not the password at all");
  await expect(page.getByRole("alert")).toHaveText("Wrong email or password.");
  await expect(page).toHaveURL(/\/login$/);
  expect((await page.context().cookies()).filter((c) => c.name === "faultline_session")).toEqual([]);
});

test("after five failures for one email, sign-in waits", async ({ page }) => {
  const email = `guessed-${Date.now()}@example.com`;
  await page.goto("/login");
  for (let i = 0; i < 5; i++) {
    await signIn(page, email, `guess number ${i}`);
    await expect(page.getByRole("alert")).toHaveText("Wrong email or password.");
  }
  await signIn(page, email, "guess number 6");
  await expect(page.getByRole("alert")).toHaveText(/^Too many failed attempts\. Try again in 1[45] minutes\.$/);
});
