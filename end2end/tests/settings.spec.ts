import { test, expect } from "@playwright/test";

const headers = { "X-API-Key": process.env.FAULTLINE_E2E_API_KEY ?? "test-api-key" };

test("settings show the DSN with snippets, create and revoke API keys, and rotate the DSN", async ({ page, request }) => {
  page.on("dialog", (d) => d.accept());
  const dsn = (await (await request.get("/api/projects", { headers })).json()).projects[0].dsn;
  await page.goto("/settings");
  await expect(page.locator("#settings")).toHaveAttribute("data-hydrated", "true");
  await expect(page.locator("#dsn")).toHaveValue(dsn);
  await page.locator("#snippet-python summary").click();
  await expect(page.locator("#snippet-python pre")).toContainText(`dsn="${dsn}"`);

  const name = `ci key ${Date.now()}`;
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByRole("button", { name: "Create key" }).click();
  const keyField = page.locator("#new-api-key");
  await expect(keyField).toHaveValue(/^flt_[0-9a-f]{32}$/);
  const key = await keyField.inputValue();
  expect((await request.get("/api/stats", { headers: { "X-API-Key": key } })).status()).toBe(200);
  const row = page.locator("tr.key-row", { hasText: name });
  await expect(row).toContainText("active");
  await expect(row).not.toContainText(key.slice(8));

  await row.getByRole("button", { name: `Revoke key ${name}` }).click();
  await expect(row).toContainText("revoked");
  expect((await request.get("/api/stats", { headers: { "X-API-Key": key } })).status()).toBe(401);

  await page.getByRole("button", { name: "Rotate DSN key" }).click();
  await expect(page.locator("#dsn")).not.toHaveValue(dsn);
  const rotated = (await (await request.get("/api/projects", { headers })).json()).projects[0].dsn;
  await expect(page.locator("#dsn")).toHaveValue(rotated);
});

test("the storage panel shows what the project stores and an admin sets its own retention", async ({ page, request }) => {
  const project = (await (await request.get("/api/projects", { headers })).json()).projects[0];
  await request.post("/api/errors", { headers, data: { message: `stored for the storage panel ${Date.now()}` } });
  await page.goto("/settings");
  await expect(page.locator("#settings")).toHaveAttribute("data-hydrated", "true");
  await expect(page.locator("#storage-project")).toContainText(/\d+ errors, about/);
  await expect(page.locator("#storage-database")).toContainText("no budget");
  await expect(page.locator("#storage-retention")).toContainText("(the server's setting)");

  await page.getByLabel("Keep errors for (days; empty: the server's setting)").fill("45");
  await page.getByRole("button", { name: "Save retention" }).click();
  await expect(page.locator("#storage-retention")).toContainText("45 days (this project's own setting)");
  const report = await (await request.get(`/api/projects/${project.id}/storage`, { headers })).json();
  expect(report.projects.find((p: { id: number }) => p.id === project.id).retention_days).toBe(45);

  await page.getByLabel("Keep errors for (days; empty: the server's setting)").fill("");
  await page.getByRole("button", { name: "Save retention" }).click();
  await expect(page.locator("#storage-retention")).toContainText("(the server's setting)");
});
