// The client scenario through the AWS SDK for JavaScript v3, @aws-sdk/client-dynamodb: commands,
// waitUntilTableExists / waitUntilTableNotExists, paginateQuery / paginateScan, and typed error
// classes (instanceof ConditionalCheckFailedException, TransactionCanceledException).
//
// Usage: node js_scenario.mjs ENDPOINT   (run by tests/clients.rs)

import {
  BatchGetItemCommand, BatchWriteItemCommand, ConditionalCheckFailedException, CreateTableCommand,
  DeleteTableCommand, DescribeTableCommand, DynamoDBClient, GetItemCommand, ListTablesCommand,
  PutItemCommand, ResourceNotFoundException, TransactWriteItemsCommand,
  TransactionCanceledException, UpdateItemCommand, paginateQuery, paginateScan,
  waitUntilTableExists, waitUntilTableNotExists,
} from "@aws-sdk/client-dynamodb";

import {
  MAYBE_MISSING, Steps, check, checkEq, clientConfig, jazzSongs, tableName,
} from "./scenario.mjs";

// Plain objects (strings and numbers) to attribute values and back.
const av = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) =>
  [k, typeof v === "number" ? { N: String(v) } : { S: v }]));
const plain = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) =>
  [k, "N" in v ? Number(v.N) : v.S]));

const client = new DynamoDBClient(clientConfig);
const TableName = tableName("js");
const steps = new Steps("js-sdk-v3");
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
  const result = await waitUntilTableExists({ client, maxWaitTime: 60 }, { TableName });
  checkEq(result.state, "SUCCESS", "waiter state");
  const { Table } = await client.send(new DescribeTableCommand({ TableName }));
  checkEq(Table.TableStatus, "ACTIVE", "table status");
  checkEq(Table.GlobalSecondaryIndexes.map((g) => g.IndexName), ["byGenre"], "GSIs");
  const { TableNames } = await client.send(new ListTablesCommand({}));
  check(TableNames.includes(TableName), "table listed");
});

await steps.step("put", async () => {
  const item = { pk: "rock#1", sk: "v1", genre: "rock", year: 1977, plays: 0, title: "Heroes" };
  await client.send(new PutItemCommand({ TableName, Item: av(item) }));
  const { Item } = await client.send(new GetItemCommand({
    TableName, Key: av({ pk: "rock#1", sk: "v1" }), ConsistentRead: true,
  }));
  checkEq(plain(Item), item, "item read back");
  model.set("rock#1", item);
});

await steps.step("conditional update", async () => {
  const out = await client.send(new UpdateItemCommand({
    TableName, Key: av({ pk: "rock#1", sk: "v1" }),
    UpdateExpression: "SET plays = plays + :one",
    ConditionExpression: "attribute_exists(pk) AND plays = :zero",
    ExpressionAttributeValues: av({ ":one": 1, ":zero": 0 }),
    ReturnValues: "UPDATED_NEW",
  }));
  checkEq(plain(out.Attributes), { plays: 1 }, "UPDATED_NEW");
  model.get("rock#1").plays = 1;
});

await steps.step("conditional failure is a ConditionalCheckFailedException", async () => {
  const err = await expectError(client.send(new UpdateItemCommand({
    TableName, Key: av({ pk: "rock#1", sk: "v1" }),
    UpdateExpression: "SET plays = plays + :one", ConditionExpression: "plays = :zero",
    ExpressionAttributeValues: av({ ":one": 1, ":zero": 0 }),
  })), ConditionalCheckFailedException, "update with a false condition");
  checkEq(err.message, "The conditional request failed", "message");
  checkEq(err.$metadata.httpStatusCode, 400, "status");
  const err2 = await expectError(client.send(new PutItemCommand({
    TableName, Item: av({ pk: "rock#1", sk: "v1" }), ConditionExpression: "attribute_not_exists(pk)",
    ReturnValuesOnConditionCheckFailure: "ALL_OLD",
  })), ConditionalCheckFailedException, "put over an existing item");
  checkEq(plain(err2.Item ?? {}), model.get("rock#1"), "the item returned with the failure");
});

const songs = jazzSongs();
const wrote = await steps.step("batch write", async () => {
  for (let start = 0; start < songs.length; start += 25) {
    let RequestItems = {
      [TableName]: songs.slice(start, start + 25).map((s) => ({ PutRequest: { Item: av(s) } })),
    };
    while (Object.keys(RequestItems).length > 0) {
      ({ UnprocessedItems: RequestItems } = await client.send(new BatchWriteItemCommand({ RequestItems })));
    }
  }
}, MAYBE_MISSING);
if (!wrote) {
  for (const s of songs) await client.send(new PutItemCommand({ TableName, Item: av(s) }));
}
for (const s of songs) model.set(s.pk, { ...s });

await steps.step("batch get", async () => {
  let RequestItems = {
    [TableName]: {
      Keys: ["song#03", "song#04", "nope"].map((pk) => av({ pk, sk: "v1" })),
      ProjectionExpression: "pk, title",
    },
  };
  const got = [];
  while (Object.keys(RequestItems).length > 0) {
    const out = await client.send(new BatchGetItemCommand({ RequestItems }));
    got.push(...out.Responses[TableName].map(plain));
    RequestItems = out.UnprocessedKeys;
  }
  got.sort((a, b) => a.pk.localeCompare(b.pk));
  checkEq(got, [{ pk: "song#03", title: "Song 3" }, { pk: "song#04", title: "Song 4" }], "items");
}, MAYBE_MISSING);

await steps.step("query the GSI with paginateQuery", async () => {
  const sizes = [];
  const years = [];
  for await (const page of paginateQuery({ client, pageSize: 6 }, {
    TableName, IndexName: "byGenre",
    KeyConditionExpression: "genre = :g AND #y BETWEEN :lo AND :hi",
    ExpressionAttributeNames: { "#y": "year" },
    ExpressionAttributeValues: av({ ":g": "jazz", ":lo": 1995, ":hi": 2014 }),
  })) {
    sizes.push(page.Count);
    years.push(...page.Items.map((i) => Number(i.year.N)));
  }
  checkEq(years, Array.from({ length: 20 }, (_, i) => 1995 + i), "years in index order");
  checkEq(sizes, [6, 6, 6, 2], "page sizes");
});

await steps.step("transaction (TransactWriteItems)", async () => {
  await client.send(new TransactWriteItemsCommand({
    TransactItems: [
      { Put: { TableName, Item: av({ pk: "txn#1", sk: "v1", genre: "jazz", year: 2020, plays: 8 }),
               ConditionExpression: "attribute_not_exists(pk)" } },
      { Update: { TableName, Key: av({ pk: "song#00", sk: "v1" }),
                  UpdateExpression: "SET plays = plays + :ten", ConditionExpression: "plays = :zero",
                  ExpressionAttributeValues: av({ ":ten": 10, ":zero": 0 }) } },
      { ConditionCheck: { TableName, Key: av({ pk: "song#01", sk: "v1" }),
                          ConditionExpression: "attribute_exists(pk)" } },
      { Delete: { TableName, Key: av({ pk: "song#29", sk: "v1" }) } },
    ],
  }));
  model.set("txn#1", { pk: "txn#1", sk: "v1", genre: "jazz", year: 2020, plays: 8 });
  model.get("song#00").plays = 10;
  model.delete("song#29");
  const err = await expectError(client.send(new TransactWriteItemsCommand({
    TransactItems: [
      { Put: { TableName, Item: av({ pk: "txn#2", sk: "v1" }) } },
      { ConditionCheck: { TableName, Key: av({ pk: "song#01", sk: "v1" }),
                          ConditionExpression: "plays = :n",
                          ExpressionAttributeValues: av({ ":n": 999 }) } },
    ],
  })), TransactionCanceledException, "a transaction with a false condition");
  checkEq(err.CancellationReasons.map((r) => r.Code), ["None", "ConditionalCheckFailed"], "reasons");
  const { Item } = await client.send(new GetItemCommand({ TableName, Key: av({ pk: "txn#2", sk: "v1" }) }));
  check(Item === undefined, "nothing written by the cancelled transaction");
}, MAYBE_MISSING);

await steps.step("scan with a filter, with paginateScan", async () => {
  const found = [];
  let scanned = 0;
  for await (const page of paginateScan({ client, pageSize: 10 }, {
    TableName, FilterExpression: "genre = :g AND plays >= :p",
    ExpressionAttributeValues: av({ ":g": "jazz", ":p": 3 }),
  })) {
    found.push(...page.Items.map((i) => i.pk.S));
    scanned += page.ScannedCount;
  }
  const want = [...model.values()].filter((i) => i.genre === "jazz" && i.plays >= 3).map((i) => i.pk);
  checkEq(found.sort(), want.sort(), "filtered items");
  checkEq(scanned, model.size, "ScannedCount");
});

await steps.step("delete table, waitUntilTableNotExists", async () => {
  await client.send(new DeleteTableCommand({ TableName }));
  const result = await waitUntilTableNotExists({ client, maxWaitTime: 60 }, { TableName });
  checkEq(result.state, "SUCCESS", "waiter state");
  await expectError(client.send(new DescribeTableCommand({ TableName })), ResourceNotFoundException,
    "describe after delete");
});

steps.done();
