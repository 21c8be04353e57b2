//! Online global secondary indexes: UpdateTable creates one while writes go on (CREATING with
//! Backfilling, then ACTIVE, every item in it) and deletes one.

mod support;

use support::{attr, key};

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeValue as AV, BillingMode, CreateGlobalSecondaryIndexAction,
    DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndexUpdate, IndexStatus, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;

async fn index_status(client: &Client, table: &str, index: &str) -> Option<(IndexStatus, bool)> {
    let t = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    t.global_secondary_indexes()
        .iter()
        .find(|i| i.index_name() == Some(index))
        .map(|i| {
            (
                i.index_status().cloned().unwrap(),
                i.backfilling().unwrap_or(false),
            )
        })
}

#[tokio::test]
async fn a_gsi_is_built_online_and_dropped() {
    let client = support::client().await;
    let name = support::table_name("online_gsi");
    client
        .create_table()
        .table_name(&name)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    for i in 0..300 {
        client
            .put_item()
            .table_name(&name)
            .item("pk", AV::S(format!("k{i}")))
            .item("team", AV::S(format!("t{}", i % 3)))
            .send()
            .await
            .unwrap();
    }
    // Writes keep going while the index is built.
    let writer = {
        let client = client.clone();
        let name = name.clone();
        tokio::spawn(async move {
            for i in 300..400 {
                client
                    .put_item()
                    .table_name(&name)
                    .item("pk", AV::S(format!("k{i}")))
                    .item("team", AV::S(format!("t{}", i % 3)))
                    .send()
                    .await
                    .unwrap();
            }
        })
    };
    let updated = client
        .update_table()
        .table_name(&name)
        .attribute_definitions(attr("team", ScalarAttributeType::S))
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .create(
                    CreateGlobalSecondaryIndexAction::builder()
                        .index_name("by_team")
                        .key_schema(key("team", KeyType::Hash))
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::KeysOnly)
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let gsi = &updated
        .table_description()
        .unwrap()
        .global_secondary_indexes()[0];
    assert_eq!(gsi.index_status(), Some(&IndexStatus::Creating));
    assert_eq!(gsi.backfilling(), Some(true));

    // A second index change while one is in progress is refused.
    let err = client
        .update_table()
        .table_name(&name)
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .delete(
                    DeleteGlobalSecondaryIndexAction::builder()
                        .index_name("by_team")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await;
    if let Err(e) = err {
        let e = e.into_service_error();
        assert!(
            e.meta().code() == Some("ResourceInUseException")
                || e.meta().code() == Some("LimitExceededException"),
            "{e:?}"
        );
    }

    let mut waited = 0;
    while index_status(&client, &name, "by_team").await.map(|s| s.0) != Some(IndexStatus::Active) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
        assert!(waited < 300, "index never became ACTIVE");
    }
    writer.await.unwrap();
    let items: Vec<HashMap<String, AV>> = client
        .query()
        .table_name(&name)
        .index_name("by_team")
        .key_condition_expression("team = :t")
        .expression_attribute_values(":t", AV::S("t1".into()))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(items.len(), (0..400).filter(|i| i % 3 == 1).count());

    client
        .update_table()
        .table_name(&name)
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .delete(
                    DeleteGlobalSecondaryIndexAction::builder()
                        .index_name("by_team")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut waited = 0;
    while index_status(&client, &name, "by_team").await.is_some() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
        assert!(waited < 300, "index never went away");
    }
    let t = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(
        t.attribute_definitions().len(),
        1,
        "the index's attribute definition goes with it"
    );
}
