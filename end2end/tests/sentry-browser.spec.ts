import { test, expect, type APIRequestContext } from "@playwright/test";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as esbuild from "esbuild";

// The real @sentry/browser SDK (from npm, bundled with esbuild) on a page served from another
// origin, so the browser applies CORS to every request the SDK makes to faultline.

const apiKey = process.env.FAULTLINE_E2E_API_KEY ?? "test-api-key";

async function sentryBundle(): Promise<string> {
  const result = await esbuild.build({
    stdin: { contents: 'import * as Sentry from "@sentry/browser"; window.Sentry = Sentry;', resolveDir: process.cwd() },
    bundle: true,
    write: false,
    format: "iife",
    minify: true,
  });
  return result.outputFiles[0].text;
}

function page(dsn: string): string {
  return `<!doctype html><html><head><title>shop</title><script src="/sentry.js"></script><script>
    Sentry.init({ dsn: ${JSON.stringify(dsn)}, release: "web@3.1.0", environment: "preview" });
    Sentry.setTag("page", "checkout");
    Sentry.setUser({ id: "browser-user-9" });
    let cart = 16;
    // The SDK drops an exact repeat of the previous error (Dedupe); the cart number differs.
    function explodeCart() { cart += 1; throw new TypeError("cart " + cart + " exploded in the browser"); }
    function captureCoupon() {
      try { null.apply(); } catch (e) { Sentry.captureException(e); }
    }
  </script></head><body>
    <button id="explode" onclick="setTimeout(explodeCart)">Explode</button>
    <button id="coupon" onclick="captureCoupon()">Coupon</button>
  </body></html>`;
}

async function errorsMatching(request: APIRequestContext, text: string) {
  const res = await request.get(`/api/errors?limit=500&q=${encodeURIComponent(text)}`, { headers: { "X-API-Key": apiKey } });
  return (await res.json()).errors as any[];
}

test("@sentry/browser on another origin reports uncaught and captured errors", async ({ page: browserPage, request }) => {
  const projects = await (await request.get("/api/projects", { headers: { "X-API-Key": apiKey } })).json();
  const dsn: string = projects.projects[0].dsn;
  const bundle = await sentryBundle();
  const server = http.createServer((req, res) => {
    if (req.url === "/sentry.js") {
      res.writeHead(200, { "content-type": "text/javascript" }).end(bundle);
    } else {
      res.writeHead(200, { "content-type": "text/html" }).end(page(dsn));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const shopOrigin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const corsFailures: string[] = [];
  browserPage.on("requestfailed", (r) => corsFailures.push(`${r.url()} ${r.failure()?.errorText}`));
  try {
    await browserPage.goto(shopOrigin);
    // The second click waits until the first error arrived (the SDK drops an error identical to
    // the one it is still sending).
    await browserPage.click("#explode");
    await expect.poll(async () => (await errorsMatching(request, "exploded in the browser")).length, { timeout: 15_000 }).toBe(1);
    await browserPage.click("#explode");
    await browserPage.click("#coupon");

    await expect.poll(async () => (await errorsMatching(request, "exploded in the browser")).length, { timeout: 15_000 }).toBe(2);
    await expect.poll(async () => (await errorsMatching(request, "apply")).length, { timeout: 15_000 }).toBe(1);
  } finally {
    server.close();
  }
  expect(corsFailures).toEqual([]);

  const uncaught = await errorsMatching(request, "exploded in the browser");
  expect(uncaught[0].issue_id).toBe(uncaught[1].issue_id);
  const e = uncaught[0];
  expect(e.message).toMatch(/^TypeError: cart 1[78] exploded in the browser$/);
  expect(e.level).toBe("error");
  expect(e.source).toBe("frontend");
  expect(e.platform).toBe("javascript");
  expect(e.environment).toBe("preview");
  expect(e.release).toBe("web@3.1.0");
  expect(e.context.tags.page).toBe("checkout");
  expect(e.context.user.id).toBe("browser-user-9");
  const frames = e.context.exception.values.flatMap((x: any) => x.stacktrace?.frames ?? []);
  expect(frames.map((f: any) => f.function)).toContain("explodeCart");
  expect(e.context.exception.values.at(-1).mechanism.handled).toBe(false);

  const [captured] = await errorsMatching(request, "apply");
  expect(captured.message).toMatch(/^TypeError: /);
  expect(captured.issue_id).not.toBe(e.issue_id);
  const capturedFrames = captured.context.exception.values.flatMap((x: any) => x.stacktrace?.frames ?? []);
  expect(capturedFrames.map((f: any) => f.function)).toContain("captureCoupon");
});
