import { test, expect, type Browser, type Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { signedInBrowser } from "../global-setup";

// A team at work: the admin invites someone who accepts in their own browser, roles decide who
// may triage, projects keep their data apart, and a password change ends the other sessions.

const headers = { "X-API-Key": process.env.FAULTLINE_E2E_API_KEY ?? "test-api-key" };

/** A browser of its own, signed in as nobody. */
async function freshPage(browser: Browser, baseURL: string | undefined): Promise<Page> {
  const context = await browser.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
  return context.newPage();
}

test("an invited user accepts in another browser; as a viewer they cannot triage, as a member they resolve", async ({
  page,
  browser,
  baseURL,
  request,
}) => {
  const stamp = Date.now();
  const email = `viewer-${stamp}@example.com`;
  const password = "the invitee's password";

  // The admin invites them and passes the link on.
  await page.goto("/users");
  await expect(page.locator("#users")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Invite" }).click();
  const inviteUrl = await page.locator("#invite-url").inputValue();
  expect(inviteUrl).toMatch(/\/invite\/fli_[0-9a-f]{64}$/);
  await expect(page.locator("tr.user-row", { hasText: email })).toContainText("invited");

  const invitee = await freshPage(browser, baseURL);
  await invitee.goto(inviteUrl);
  await expect(invitee.locator("#invite")).toHaveAttribute("data-hydrated", "true");
  await invitee.getByLabel("Name").fill("Vera Viewer");
  await invitee.getByLabel("Password").fill(password);
  await invitee.getByRole("button", { name: "Create account" }).click();
  await expect(invitee.locator(".topbar .user")).toHaveText("Vera Viewer");
  await expect(invitee.locator("#no-issues")).toContainText("not a member of any project");

  // An issue in the default project; the invitee joins it as a viewer.
  const message = `team triage ${stamp}`;
  const posted = await request.post("/api/errors", { headers, data: { message, level: "error" } });
  expect(posted.status()).toBe(202);
  const errorId = (await posted.json()).id;
  let issueId = 0;
  await expect(async () => {
    const res = await request.get(`/api/errors/${errorId}`, { headers });
    expect(res.status()).toBe(200);
    issueId = (await res.json()).issue_id;
  }).toPass();
  await page.goto("/settings?project=default");
  await expect(page.locator("#settings")).toHaveAttribute("data-hydrated", "true");
  await page.locator("#member-email").fill(email);
  await page.locator("#member-role").selectOption("viewer");
  await page.getByRole("button", { name: "Add member" }).click();
  await expect(page.locator("tr.member-row", { hasText: email })).toBeVisible();

  // The admin's Resolve shows which server function triage calls; then the issue is reopened.
  await page.goto(`/issues/${issueId}`);
  await expect(page.locator("#issue")).toHaveAttribute("data-hydrated", "true");
  const [call] = await Promise.all([
    page.waitForRequest((r) => r.method() === "POST" && r.url().includes("/api/set_issue_status")),
    page.getByRole("button", { name: "Resolve" }).click(),
  ]);
  await expect(page.locator("#issue-status")).toHaveText("resolved");
  await page.getByRole("button", { name: "Reopen" }).click();
  await expect(page.locator("#issue-status")).toHaveText("unresolved");

  // The viewer reads the issue but is offered no triage, and a direct call is refused.
  await invitee.goto(`/issues/${issueId}`);
  await expect(invitee.locator("#issue")).toHaveAttribute("data-hydrated", "true");
  await expect(invitee.locator("#issue-title")).toHaveText(message);
  await expect(invitee.locator("#read-only")).toBeVisible();
  await expect(invitee.getByRole("button", { name: "Resolve" })).toHaveCount(0);
  await expect(invitee.getByRole("button", { name: "Delete" })).toHaveCount(0);
  const refused = await invitee.evaluate(
    async ({ url, id }) => {
      const res = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: `id=${id}&status=resolved`,
      });
      return { status: res.status, body: await res.json() };
    },
    { url: new URL(call.url()).pathname, id: issueId },
  );
  expect(refused.status).toBe(403);
  expect(refused.body.error.code).toBe("forbidden");
  expect((await (await request.get(`/api/issues/${issueId}`, { headers })).json()).status).toBe("unresolved");

  // Made a member, they resolve it.
  await page.goto("/settings?project=default");
  await expect(page.locator("#settings")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel(`Role of ${email}`).selectOption("member");
  await expect(page.getByLabel(`Role of ${email}`)).toHaveValue("member");
  await expect(async () => {
    await invitee.goto(`/issues/${issueId}`);
    await expect(invitee.getByRole("button", { name: "Resolve" })).toBeVisible({ timeout: 1000 });
  }).toPass();
  await expect(invitee.locator("#issue")).toHaveAttribute("data-hydrated", "true");
  await invitee.getByRole("button", { name: "Resolve" }).click();
  await expect(invitee.locator("#issue-status")).toHaveText("resolved");
  expect((await (await request.get(`/api/issues/${issueId}`, { headers })).json()).status).toBe("resolved");

  // Signed in in a second browser too, they change their password in the first: the second is
  // signed out.
  const second = await signedInBrowser(browser, baseURL, email, password);
  await invitee.goto("/account");
  await expect(invitee.locator("#account")).toHaveAttribute("data-hydrated", "true");
  await invitee.getByLabel("Current password").fill(password);
  await invitee.getByLabel("New password").fill("a brand new password");
  await invitee.getByRole("button", { name: "Change password" }).click();
  await expect(invitee.getByRole("status")).toContainText("Password changed");
  await second.goto(`/issues/${issueId}`);
  await expect(second).toHaveURL(/\/login\?next=/);
  await invitee.context().close();
  await second.context().close();
});

test("a new project gets its own DSN; a real SDK's event shows only there; the switcher and All projects", async ({
  page,
}) => {
  const stamp = Date.now();
  const name = `Checkout ${stamp}`;
  await page.goto("/projects");
  await expect(page.locator("#projects")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Create project" }).click();
  await expect(page.locator("#project-created")).toContainText(name);
  await expect(page.locator("#new-project-key")).toHaveValue(/^flt_/);
  const slug = `checkout-${stamp}`;
  await expect(page.locator(`tr.project-row[data-project="${slug}"]`)).toBeVisible();

  await page.getByRole("link", { name: "Set up its SDK" }).click();
  await expect(page).toHaveURL(`/settings?project=${slug}`);
  await expect(page.locator("#settings")).toHaveAttribute("data-hydrated", "true");
  const dsn = await page.locator("#dsn").inputValue();
  expect(dsn).toMatch(/^http:\/\/[0-9a-f]{32}@/);

  // The real @sentry/node SDK, in a process of its own, sends through the new project's DSN.
  const message = `only in ${slug}`;
  const script = `
    import * as Sentry from "@sentry/node";
    Sentry.init({ dsn: process.argv[1], defaultIntegrations: false });
    Sentry.captureException(new Error(process.argv[2]));
    await Sentry.flush(10000);`;
  execFileSync("node", ["--input-type=module", "-e", script, dsn, message], { cwd: process.cwd(), timeout: 30_000 });

  const row = page.locator("tr.issue-row", { hasText: message });
  await expect(async () => {
    await page.goto(`/?project=${slug}`);
    await expect(row).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 20_000 });
  await expect(page.locator("#project-switcher")).toHaveValue(slug);
  await expect(row.locator(".project-tag")).toHaveCount(0);

  // Another project through the switcher: the event is not there.
  await expect(page.locator("#issues")).toHaveAttribute("data-hydrated", "true");
  await page.locator("#project-switcher").selectOption("default");
  await expect(page).toHaveURL("/?project=default");
  await expect(page.locator("tr.issue-row").first()).toBeVisible();
  await expect(row).toHaveCount(0);

  // All projects: there again, with its project named on the row.
  await page.locator("#project-switcher").selectOption("");
  await expect(page).toHaveURL("/");
  await expect(row).toBeVisible();
  await expect(row.locator(".project-tag")).toHaveText(name);

  // Deleted (after typing its name), it and its issues are gone.
  await page.goto(`/settings?project=${slug}`);
  await expect(page.locator("#settings")).toHaveAttribute("data-hydrated", "true");
  const remove = page.getByRole("button", { name: "Delete project" });
  await expect(remove).toBeDisabled();
  await page.locator("#delete-confirm").fill(name);
  await remove.click();
  await expect(page).toHaveURL("/projects");
  await expect(page.locator(`tr.project-row[data-project="${slug}"]`)).toHaveCount(0);
  await page.goto("/");
  await expect(page.locator("#issues")).toHaveAttribute("data-hydrated", "true");
  await expect(row).toHaveCount(0);
});
