import { test, expect, type APIRequestContext } from "@playwright/test";

const headers = { "X-API-Key": process.env.FAULTLINE_E2E_API_KEY ?? "test-api-key" };

async function find(request: APIRequestContext, text: string): Promise<any[]> {
  const res = await request.get(`/api/errors?limit=50&q=${encodeURIComponent(text)}`, { headers });
  return (await res.json()).errors;
}

test("the test triggers raise real frontend, WASM and backend errors that arrive through the pipeline", async ({ page, request }) => {
  await page.goto("/settings");
  await expect(page.locator("#settings")).toHaveAttribute("data-hydrated", "true");
  // The reporter is installed once the page knows its DSN.
  await page.waitForFunction(() => (window as any).faultlineReporterReady === true);

  await page.getByRole("button", { name: "Trigger Backend Error" }).click();
  await expect(page.locator("#trigger-result")).toContainText("Recorded: Backend test error");
  await expect.poll(async () => (await find(request, "Backend test error")).length).toBeGreaterThan(0);
  const [backend] = await find(request, "Backend test error");
  expect(backend.source).toBe("backend");
  expect(backend.stack_trace).toContain("trigger_backend_error");

  await page.getByRole("button", { name: "Trigger Frontend Error" }).click();
  await expect.poll(async () => (await find(request, "reading 'checkout'")).length).toBeGreaterThan(0);
  const [frontend] = await find(request, "reading 'checkout'");
  expect(frontend.source).toBe("frontend");
  expect(frontend.message).toMatch(/^TypeError: /);
  const frames = frontend.context.exception.values[0].stacktrace.frames.map((f: any) => f.function);
  expect(frames).toContain("faultlineTestError");

  await page.getByRole("button", { name: "Trigger WASM panic" }).click();
  await expect.poll(async () => (await find(request, "WASM test panic")).length).toBeGreaterThan(0);
  const [panic] = await find(request, "WASM test panic");
  expect(panic.source).toBe("frontend");
  expect(panic.message).toContain("panic: WASM test panic: index 3 out of range for 0 items");
  expect(panic.context.exception.values[0].stacktrace.frames[0].filename).toContain("settings.rs");
});
