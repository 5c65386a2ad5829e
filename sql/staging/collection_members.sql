/* kiai
materialized = "view"
description = "One row per (category, collection, beatmap): the labels of kiai.toml [collections] joined to the latest osu!collector answer of each collection. A map in two categories appears twice (the dataset flags and drops it)."
[columns.category]
description = "label from kiai.toml [collections]"
tests = ["not_null"]
[columns.collection_id]
tests = ["not_null"]
[columns.beatmap_id]
tests = ["not_null"]
[columns.checksum]
description = "md5 of the .osu as osu!collector stored it"
[columns.position]
description = "1-based order of the beatmap in the collection's answer"
tests = ["not_null"]
[columns.category_order]
description = "order of the label in kiai.toml (first one wins on conflicts)"
*/
WITH latest AS (
    SELECT CAST(r.params ->> 'collection_id' AS BIGINT) AS collection_id, r.body, r.response_id, r.fetched_at
    FROM raw.api_responses AS r
    WHERE {{ is_endpoint('collection', 'r') }} AND r.http_status = 200
    QUALIFY row_number() OVER (PARTITION BY collection_id ORDER BY r.fetched_at DESC, r.response_id DESC) = 1
),
members AS (
    SELECT
        latest.collection_id,
        latest.response_id,
        CAST(m ->> 'id' AS BIGINT) AS beatmap_id,
        m ->> 'checksum' AS checksum,
        CAST(bs ->> 'id' AS BIGINT) AS beatmapset_id,
        row_number() OVER (PARTITION BY latest.collection_id ORDER BY set_pos, map_pos) AS position
    FROM latest
    CROSS JOIN unnest(CAST(latest.body -> '$.beatmapsets' AS JSON[])) WITH ORDINALITY AS sets(bs, set_pos)
    CROSS JOIN unnest(CAST(bs -> '$.beatmaps' AS JSON[])) WITH ORDINALITY AS maps(m, map_pos)
)
SELECT
    labels.category,
    members.collection_id,
    members.beatmap_id,
    members.checksum,
    CAST(members.position AS INTEGER) AS position,
    members.beatmapset_id,
    labels.position AS category_order,
    members.response_id
FROM members
JOIN raw.collection_labels AS labels ON labels.collection_id = members.collection_id
