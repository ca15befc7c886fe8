// Sends errors to faultline with the real @sentry/node SDK (installed from npm).
// Usage: node node_app.mjs DSN
// Sends: the same TypeError twice, a RangeError, a message, and an error with over 32 KiB of
// extra data (which the SDK gzips and sends chunked).
import * as Sentry from "@sentry/node";

const dsn = process.argv[2];
Sentry.init({ dsn, release: "api@5.0.1", environment: "production", defaultIntegrations: false });
Sentry.setTag("service", "billing");
Sentry.setUser({ id: "node-user-7" });
Sentry.addBreadcrumb({ category: "http", message: "GET /invoices", level: "info" });

function renderInvoice(invoice) {
  return invoice.customer.name.toUpperCase();
}

function handleRequest() {
  return renderInvoice({ customer: undefined });
}

for (let i = 0; i < 2; i++) {
  try {
    handleRequest();
  } catch (e) {
    Sentry.captureException(e);
  }
}

try {
  new Array(-1);
} catch (e) {
  Sentry.captureException(e);
}

Sentry.captureMessage("nightly export took too long", "warning");

const big = "x".repeat(40 * 1024);
Sentry.withScope((scope) => {
  scope.setExtra("report", big);
  Sentry.captureException(new Error("large report failed to upload"));
});

await Sentry.flush(10000);
console.log("sent");
