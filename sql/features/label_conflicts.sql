/* kiai
description = """
Beatmaps labelled with two or more categories (their collections sit under different kiai.toml
[collections] categories). Categories are listed in kiai.toml order; `kept_label` is the label the
dataset gives the map under var label_conflict_policy (keep_first: the first category; drop: NULL,
the map is left out). Categories tied in kiai.toml order (one collection listed under two) are ordered
by name, so the result never depends on the row order.
"""
[columns.beatmap_id]
tests = ["not_null", "unique"]
[columns.categories]
description = "the map's categories, in kiai.toml order"
[columns.n_categories]
tests = [{accepted_range = {min = 2}}]
[columns.kept_label]
description = "the dataset's label for the map; NULL when the policy drops conflicts"
*/
WITH labels AS (
    -- a category's rank: its first collection's position in kiai.toml
    SELECT beatmap_id, category, min(min(category_order)) OVER (PARTITION BY category) AS category_rank
    FROM {{ ref('collection_members') }}
    GROUP BY beatmap_id, category
)
SELECT
    beatmap_id,
    list(category ORDER BY category_rank, category) AS categories,
    count(*)::INTEGER AS n_categories,
    {% if var('label_conflict_policy') == 'keep_first' -%}
    min_by(category, {'category_rank': category_rank, 'category': category}) AS kept_label
    {%- elif var('label_conflict_policy') == 'drop' -%}
    NULL::VARCHAR AS kept_label
    {%- else -%}
    {{ fail("var label_conflict_policy must be 'keep_first' or 'drop'") }}
    {%- endif %}
FROM labels
GROUP BY beatmap_id
HAVING count(*) > 1
