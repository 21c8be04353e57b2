// dynamodb-admin (the web console people run beside DynamoDB Local) against dynamo-pg, clicked
// through in headless Chromium: list tables, browse a table's items, open one, edit it in the
// editor, save, and check the change through the SDK. Screenshots go to SCREENSHOT_DIR.
//
// Usage: node admin_scenario.mjs ENDPOINT SCREENSHOT_DIR   (run by tests/clients.rs)
// Needs Chromium (Debian: apt-get install chromium; CHROMIUM=/path overrides /usr/bin/chromium).

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import {
  CreateTableCommand, DeleteTableCommand, DynamoDBClient, waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { chromium } from "playwright-core";

import { Steps, check, checkEq, clientConfig, tableName } from "./scenario.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const endpoint = process.argv[2];
const shots = process.argv[3];
if (!shots) {
  console.error("usage: node admin_scenario.mjs ENDPOINT SCREENSHOT_DIR");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

// dynamodb-admin signs with its default keys "key"/"secret"; use the same here, so that DynamoDB
// Local (which keeps tables per key) shows the same tables too. dynamo-pg accepts any keys.
const client = new DynamoDBClient({ ...clientConfig, credentials: { accessKeyId: "key", secretAccessKey: "secret" } });
const doc = DynamoDBDocumentClient.from(client);
const TableName = tableName("admin");
const steps = new Steps("dynamodb-admin");
const cleanups = [];

// Starts dynamodb-admin's own command line, as people run it, on a free port.
function startAdmin() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [
      join(here, "node_modules/dynamodb-admin/dist/dynamodb-admin.js"),
      "--host", "127.0.0.1", "--port", "0", "--dynamo-endpoint", endpoint,
    ], { stdio: ["ignore", "pipe", "inherit"] });
    cleanups.push(() => child.kill());
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`dynamodb-admin exited (${code}): ${out}`)));
    setTimeout(() => reject(new Error(`dynamodb-admin did not start: ${out}`)), 30000).unref();
  });
}

let page;
try {
  await steps.step("set up a table with items (SDK)", async () => {
    await client.send(new CreateTableCommand({
      TableName,
      AttributeDefinitions: [{ AttributeName: "artist", AttributeType: "S" },
                             { AttributeName: "song", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "artist", KeyType: "HASH" },
                  { AttributeName: "song", KeyType: "RANGE" }],
      BillingMode: "PAY_PER_REQUEST",
    }));
    await waitUntilTableExists({ client, maxWaitTime: 60 }, { TableName });
    for (const [artist, song, year] of [["Acme Band", "Happy Day", 2024], ["Acme Band", "Rainy Day", 2021],
                                         ["No One You Know", "Call Me Today", 2019]]) {
      await doc.send(new PutCommand({ TableName, Item: { artist, song, year, tags: ["demo"] } }));
    }
  });

  const adminUrl = await startAdmin();
  const profile = mkdtempSync(join(tmpdir(), "dynamo-pg-chromium-"));
  cleanups.push(() => rmSync(profile, { recursive: true, force: true }));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 800 },
  });
  cleanups.unshift(() => browser.close());
  page = browser.pages()[0] ?? await browser.newPage();
  page.setDefaultTimeout(20000);
  const pageErrors = [];
  page.on("pageerror", (err) => pageErrors.push(String(err)));
  page.on("dialog", async (dialog) => {
    pageErrors.push(`dialog: ${dialog.message()}`);
    await dialog.dismiss();
  });

  await steps.step("list tables", async () => {
    const response = await page.goto(adminUrl);
    checkEq(response.status(), 200, "tables page status");
    const link = page.locator("#table-list a", { hasText: TableName });
    await link.waitFor();
    await page.screenshot({ path: join(shots, "dynamodb-admin-1-tables.png") });
  });

  await steps.step("browse the table's items", async () => {
    await page.locator("#table-list a", { hasText: TableName }).click();
    await page.locator("#items-container tr", { hasText: "Rainy Day" }).waitFor();
    const rows = await page.locator("#items-container tr").count();
    checkEq(rows, 3, "item rows");
    check(await page.locator("#items-container", { hasText: "No One You Know" }).isVisible(),
      "other partition shown");
    await page.screenshot({ path: join(shots, "dynamodb-admin-2-items.png") });
  });

  await steps.step("the table's Meta and TTL tabs", async () => {
    await page.getByRole("link", { name: "Meta" }).click();
    await page.getByText(TableName).first().waitFor();
    check(await page.getByText("KeySchema").first().isVisible(), "meta page shows the description");
    await page.getByRole("link", { name: "TTL" }).click();
    await page.getByText("DISABLED", { exact: true }).waitFor();
    await page.getByRole("link", { name: "Items", exact: true }).click();
    await page.locator("#items-container tr", { hasText: "Rainy Day" }).waitFor();
  });

  await steps.step("open an item and edit it in the editor", async () => {
    await page.locator("#items-container tr", { hasText: "Rainy Day" })
      .getByRole("link", { name: "View" }).click();
    await page.locator("#documentTextarea .ace_content").waitFor();
    const shown = JSON.parse(await page.evaluate(() => window.ace.edit("documentTextarea").getValue()));
    checkEq(shown, { artist: "Acme Band", song: "Rainy Day", year: 2021, tags: ["demo"] },
      "item shown in the editor");
    // Edit as a person would: select everything in the editor and type the new document.
    const edited = { ...shown, year: 2022, rating: 4.5, tags: ["demo", "edited"] };
    await page.locator("#documentTextarea .ace_content").click();
    await page.keyboard.press("Control+A");
    await page.keyboard.insertText(JSON.stringify(edited, null, 2));
    await page.locator("#saveButton").click();
    await page.locator("#saveButton.btn-success").waitFor();
    await page.screenshot({ path: join(shots, "dynamodb-admin-3-edited.png") });
    const { Item } = await doc.send(new GetCommand({
      TableName, Key: { artist: "Acme Band", song: "Rainy Day" }, ConsistentRead: true,
    }));
    checkEq(Item, edited, "item read back through the SDK");
    checkEq(pageErrors, [], "errors in the page");
  });

  await steps.step("the table view shows the edit", async () => {
    await page.getByRole("link", { name: TableName }).first().click();
    await page.locator("#items-container tr", { hasText: "edited" }).waitFor();
    await page.screenshot({ path: join(shots, "dynamodb-admin-4-items-after-edit.png") });
  });

  await steps.step("delete the table (SDK)", async () => {
    await client.send(new DeleteTableCommand({ TableName }));
  });
  steps.done();
} catch (err) {
  if (page) {
    await page.screenshot({ path: join(shots, "dynamodb-admin-failure.png") }).catch(() => {});
  }
  throw err;
} finally {
  for (const cleanup of cleanups) await Promise.resolve(cleanup()).catch(() => {});
}
