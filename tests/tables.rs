//! Table operations through the Rust AWS SDK, as an application would call them.

mod support;

use support::{attr, key};

use aws_sdk_dynamodb::types::{
    BillingMode, GlobalSecondaryIndex, KeyType, Projection, ProjectionType, ProvisionedThroughput,
    ScalarAttributeType, TableStatus, Tag,
};

#[tokio::test]
async fn create_describe_list_update_delete() {
    let client = support::client().await;
    let name = support::table_name("tables_lifecycle");
    let created = client
        .create_table()
        .table_name(&name)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("sk", ScalarAttributeType::N))
        .attribute_definitions(attr("lsk", ScalarAttributeType::S))
        .attribute_definitions(attr("gpk", ScalarAttributeType::B))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .local_secondary_indexes(support::lsi(
            "by_lsk",
            &[("pk", KeyType::Hash), ("lsk", KeyType::Range)],
            ProjectionType::KeysOnly,
        ))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by_gpk")
                .key_schema(key("gpk", KeyType::Hash))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::Include)
                        .non_key_attributes("a")
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .tags(Tag::builder().key("team").value("storage").build().unwrap())
        .send()
        .await
        .expect("create table");
    let desc = created.table_description().unwrap();
    assert_eq!(desc.table_name(), Some(name.as_str()));
    assert_eq!(desc.key_schema().len(), 2);
    assert!(desc
        .table_arn()
        .unwrap()
        .ends_with(&format!(":table/{name}")));
    assert!(desc.table_id().is_some());

    let described = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap();
    let table = described.table().unwrap();
    assert_eq!(table.table_status(), Some(&TableStatus::Active));
    assert_eq!(table.item_count(), Some(0));
    assert_eq!(
        table.billing_mode_summary().unwrap().billing_mode(),
        Some(&BillingMode::PayPerRequest)
    );
    assert_eq!(table.local_secondary_indexes().len(), 1);
    let gsi = &table.global_secondary_indexes()[0];
    assert_eq!(gsi.index_name(), Some("by_gpk"));
    assert_eq!(
        gsi.projection().unwrap().non_key_attributes(),
        ["a".to_string()]
    );

    // The table's ARN works wherever a name does.
    let arn = table.table_arn().unwrap().to_string();
    client
        .describe_table()
        .table_name(&arn)
        .send()
        .await
        .expect("describe by ARN");
    let tags = client
        .list_tags_of_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags()[0].key(), "team");

    let listed = client.list_tables().send().await.unwrap();
    assert!(listed.table_names().contains(&name));

    // Deletion protection blocks DeleteTable until it is turned off.
    client
        .update_table()
        .table_name(&name)
        .deletion_protection_enabled(true)
        .send()
        .await
        .unwrap();
    let err = client
        .delete_table()
        .table_name(&name)
        .send()
        .await
        .unwrap_err();
    assert!(format!("{:?}", err.into_service_error()).contains("protected against deletion"));
    client
        .update_table()
        .table_name(&name)
        .deletion_protection_enabled(false)
        .send()
        .await
        .unwrap();

    let deleted = client
        .delete_table()
        .table_name(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        deleted.table_description().unwrap().table_status(),
        Some(&TableStatus::Deleting)
    );
    let err = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_resource_not_found_exception());
}

#[tokio::test]
async fn provisioned_throughput_changes_are_reported() {
    let client = support::client().await;
    let name = support::table_name("tables_throughput");
    client
        .create_table()
        .table_name(&name)
        .attribute_definitions(attr("id", ScalarAttributeType::N))
        .key_schema(key("id", KeyType::Hash))
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(5)
                .write_capacity_units(5)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    client
        .update_table()
        .table_name(&name)
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(10)
                .write_capacity_units(2)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let table = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let t = table.provisioned_throughput().unwrap();
    assert_eq!(
        (t.read_capacity_units(), t.write_capacity_units()),
        (Some(10), Some(2))
    );
    assert_eq!(t.number_of_decreases_today(), Some(1));
    assert!(t.last_increase_date_time().is_some() && t.last_decrease_date_time().is_some());

    // Creating it again is ResourceInUseException.
    let err = client
        .create_table()
        .table_name(&name)
        .attribute_definitions(attr("id", ScalarAttributeType::N))
        .key_schema(key("id", KeyType::Hash))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_resource_in_use_exception());
    client
        .delete_table()
        .table_name(&name)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn list_tables_pages_in_name_order() {
    let client = support::client().await;
    let prefix = support::table_name("tables_page");
    let mut names: Vec<String> = (0..5).map(|i| format!("{prefix}_{i}")).collect();
    for n in &names {
        client
            .create_table()
            .table_name(n)
            .attribute_definitions(attr("id", ScalarAttributeType::S))
            .key_schema(key("id", KeyType::Hash))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .unwrap();
    }
    names.sort();
    let mut seen = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let page = client
            .list_tables()
            .limit(2)
            .set_exclusive_start_table_name(start.clone())
            .send()
            .await
            .unwrap();
        assert!(page.table_names().len() <= 2);
        seen.extend(
            page.table_names()
                .iter()
                .filter(|n| n.starts_with(&prefix))
                .cloned(),
        );
        match page.last_evaluated_table_name() {
            Some(last) => start = Some(last.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, names);
    // The SDK's own paginator walks the same pages.
    let all: Vec<String> = client
        .list_tables()
        .limit(3)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert!(names.iter().all(|n| all.contains(n)));
    for n in &names {
        client.delete_table().table_name(n).send().await.unwrap();
    }
}
