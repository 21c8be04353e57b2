// The client scenario through the JavaScript v3 DocumentClient (@aws-sdk/lib-dynamodb): native JS
// values (numbers, Sets, nested maps and lists, booleans, null, binary), its own paginateQuery /
// paginateScan, BatchWrite/BatchGet/TransactWrite commands, and the client-dynamodb error classes.
//
// Usage: node js_document_scenario.mjs ENDPOINT   (run by tests/clients.rs)

import {
  ConditionalCheckFailedException, CreateTableCommand, DeleteTableCommand, DynamoDBClient,
  TransactionCanceledException, waitUntilTableExists, waitUntilTableNotExists,
} from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient, GetCommand, PutCommand,
  TransactWriteCommand, UpdateCommand, paginateQuery, paginateScan,
} from "@aws-sdk/lib-dynamodb";

import {
  MAYBE_MISSING, Steps, check, checkEq, clientConfig, jazzSongs, tableName,
} from "./scenario.mjs";

const client = new DynamoDBClient(clientConfig);
const doc = DynamoDBDocumentClient.from(client);
const TableName = tableName("jsdoc");
const steps = new Steps("js-document-client");
const model = new Map();

async function expectError(promise, cls, what) {
  try {
    await promise;
  } catch (err) {
    if (err instanceof cls) return err;
    throw err;
  }
  throw new Error(`${what}: no error`);
}

await steps.step("create table with a GSI, waitUntilTableExists", async () => {
  await client.send(new CreateTableCommand({
    TableName,
    AttributeDefinitions: [["pk", "S"], ["sk", "S"], ["genre", "S"], ["year", "N"]]
      .map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType })),
    KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }, { AttributeName: "sk", KeyType: "RANGE" }],
    GlobalSecondaryIndexes: [{
      IndexName: "byGenre",
      KeySchema: [{ AttributeName: "genre", KeyType: "HASH" }, { AttributeName: "year", KeyType: "RANGE" }],
      Projection: { ProjectionType: "ALL" },
    }],
    BillingMode: "PAY_PER_REQUEST",
  }));
  await waitUntilTableExists({ client, maxWaitTime: 60 }, { TableName });
});

await steps.step("put native JS values", async () => {
  const item = {
    pk: "rock#1", sk: "v1", genre: "rock", year: 1977, plays: 0, title: "Heroes",
    tags: new Set(["glam", "berlin"]), lineup: [{ name: "David", instruments: ["voice"] }],
    live: false, producer: null, cover: new Uint8Array([0, 1, 2, 255]), ratio: 0.25,
  };
  await doc.send(new PutCommand({ TableName, Item: item }));
  const { Item } = await doc.send(new GetCommand({ TableName, Key: { pk: "rock#1", sk: "v1" },
                                                    ConsistentRead: true }));
  check(Item.tags instanceof Set, "string set comes back as a Set");
  check(Item.cover instanceof Uint8Array, "binary comes back as a Uint8Array");
  checkEq({ ...Item, cover: [...Item.cover] }, { ...item, cover: [0, 1, 2, 255] }, "item read back");
  model.set("rock#1", { pk: "rock#1", genre: "rock", plays: 0 });
});

await steps.step("conditional update", async () => {
  const out = await doc.send(new UpdateCommand({
    TableName, Key: { pk: "rock#1", sk: "v1" },
    UpdateExpression: "SET plays = plays + :one, lineup[0].instruments = list_append(lineup[0].instruments, :i) ADD tags :t",
    ConditionExpression: "attribute_exists(pk) AND plays = :zero",
    ExpressionAttributeValues: { ":one": 1, ":zero": 0, ":i": ["piano"], ":t": new Set(["live"]) },
    ReturnValues: "UPDATED_NEW",
  }));
  // (The service returns only the updated nested path, lineup[0].instruments; DynamoDB Local
  // returns the whole lineup. Check what both agree on.)
  checkEq([out.Attributes.plays, out.Attributes.lineup[0].instruments, out.Attributes.tags],
    [1, ["voice", "piano"], new Set(["glam", "berlin", "live"])], "UPDATED_NEW");
  model.get("rock#1").plays = 1;
});

await steps.step("conditional failure is a ConditionalCheckFailedException", async () => {
  const err = await expectError(doc.send(new UpdateCommand({
    TableName, Key: { pk: "rock#1", sk: "v1" },
    UpdateExpression: "SET plays = plays + :one", ConditionExpression: "plays = :zero",
    ExpressionAttributeValues: { ":one": 1, ":zero": 0 },
  })), ConditionalCheckFailedException, "update with a false condition");
  checkEq(err.name, "ConditionalCheckFailedException", "name");
});

const songs = jazzSongs();
const wrote = await steps.step("batch write (BatchWriteCommand)", async () => {
  for (let start = 0; start < songs.length; start += 25) {
    let RequestItems = {
      [TableName]: songs.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } })),
    };
    while (Object.keys(RequestItems).length > 0) {
      ({ UnprocessedItems: RequestItems } = await doc.send(new BatchWriteCommand({ RequestItems })));
    }
  }
}, MAYBE_MISSING);
if (!wrote) {
  for (const Item of songs) await doc.send(new PutCommand({ TableName, Item }));
}
for (const s of songs) model.set(s.pk, { ...s });

await steps.step("batch get (BatchGetCommand)", async () => {
  let RequestItems = {
    [TableName]: { Keys: ["song#03", "song#04", "nope"].map((pk) => ({ pk, sk: "v1" })) },
  };
  const got = [];
  while (Object.keys(RequestItems).length > 0) {
    const out = await doc.send(new BatchGetCommand({ RequestItems }));
    got.push(...out.Responses[TableName]);
    RequestItems = out.UnprocessedKeys ?? {};
  }
  checkEq(got.map((i) => i.title).sort(), ["Song 3", "Song 4"], "titles");
}, MAYBE_MISSING);

await steps.step("query the GSI with the DocumentClient's paginateQuery", async () => {
  const sizes = [];
  const years = [];
  for await (const page of paginateQuery({ client: doc, pageSize: 6 }, {
    TableName, IndexName: "byGenre",
    KeyConditionExpression: "genre = :g AND #y BETWEEN :lo AND :hi",
    ExpressionAttributeNames: { "#y": "year" },
    ExpressionAttributeValues: { ":g": "jazz", ":lo": 1995, ":hi": 2014 },
  })) {
    sizes.push(page.Count);
    years.push(...page.Items.map((i) => i.year));
  }
  checkEq(years, Array.from({ length: 20 }, (_, i) => 1995 + i), "years in index order");
  checkEq(sizes, [6, 6, 6, 2], "page sizes");
});

await steps.step("transaction (TransactWriteCommand)", async () => {
  await doc.send(new TransactWriteCommand({
    TransactItems: [
      { Put: { TableName, Item: { pk: "txn#1", sk: "v1", genre: "jazz", year: 2020, plays: 3 } } },
      { Update: { TableName, Key: { pk: "song#03", sk: "v1" }, UpdateExpression: "SET plays = :z",
                  ExpressionAttributeValues: { ":z": 0 } } },
    ],
  }));
  model.set("txn#1", { pk: "txn#1", genre: "jazz", plays: 3 });
  model.get("song#03").plays = 0;
  const err = await expectError(doc.send(new TransactWriteCommand({
    TransactItems: [
      { ConditionCheck: { TableName, Key: { pk: "song#01", sk: "v1" },
                          ConditionExpression: "attribute_not_exists(pk)" } },
      { Delete: { TableName, Key: { pk: "song#04", sk: "v1" } } },
    ],
  })), TransactionCanceledException, "a transaction with a false condition");
  checkEq(err.CancellationReasons.map((r) => r.Code), ["ConditionalCheckFailed", "None"], "reasons");
}, MAYBE_MISSING);

await steps.step("scan with a filter, with the DocumentClient's paginateScan", async () => {
  const found = [];
  for await (const page of paginateScan({ client: doc, pageSize: 10 }, {
    TableName, FilterExpression: "genre = :g AND plays >= :p",
    ExpressionAttributeValues: { ":g": "jazz", ":p": 3 },
  })) {
    found.push(...page.Items.map((i) => i.pk));
  }
  const want = [...model.values()].filter((i) => i.genre === "jazz" && i.plays >= 3).map((i) => i.pk);
  checkEq(found.sort(), want.sort(), "filtered items");
});

await steps.step("delete table, waitUntilTableNotExists", async () => {
  await client.send(new DeleteTableCommand({ TableName }));
  await waitUntilTableNotExists({ client, maxWaitTime: 60 }, { TableName });
});

steps.done();
