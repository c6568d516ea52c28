"""Conformance table: Kestra's expressions and the output Kestra gives, rendered here.

Each row cites where the expression and Kestra's output come from:

* ``K:<file>`` is ``core/src/test/java/io/kestra/core/runners/pebble/<file>`` in
  github.com/kestra-io/kestra at 58c1ca2d0589c888328bacc3ee65e65dc4ba0a6a (Kestra's own tests);
* ``D:<file>`` is ``content/docs/expressions/<file>`` in github.com/kestra-io/docs (Kestra's
  reference pages; the output is the one the page states).

Rows in ``DIFFERENT`` are rendered differently here: they run as strict xfail, so a fix shows
up. ``test_count_rendered_identically`` states the count.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from kestra_git_tasks.templating import Renderer

_NOW = datetime(2013, 9, 8, 16, 19, 12, 123456, tzinfo=timezone(timedelta(hours=1)))
_DATE2 = datetime(2013, 9, 8, 16, 19, tzinfo=timezone(timedelta(hours=2)))
_SECOND = {
    "string": "string",
    "int": 1,
    "float": 1.123,
    "list": ["string", 1, 1.123],
    "bool": True,
    "map": {"string": "string", "int": 1, "float": 1.123},
    "null": None,
}
CONTEXT: dict[str, Any] = {
    "date": datetime.fromtimestamp(int(_NOW.timestamp()), UTC),
    "instant": _NOW.astimezone(UTC),
    "zoned": _NOW,
    "local": _NOW.replace(tzinfo=None),
    "vars": {"second": _SECOND},
    "list": [1, 2, 3, 4, 5, 6, 7, 8, 9],
    "block": {"test": {"child": "awesome"}, "empty": {}},
    "inner": "test",
    "null": None,
    "my_vars": {"test": [1, 2, 3]},
    "first": {"second": {"third": "{{third}}"}},
    "end": "awesome",
    "third": "{{end}}",
    "r1": "1",
    "r2": "{{r1}}",
    "r3": "{{r2}}",
    "rmap": {"third": "{{r3}}"},
    "nestedList": ["a", ["b", "c"], "d"],
    "var": 1.232654,
    "string": "string",
    "int": 1,
    "float": 1.123,
    "bool": True,
    "zdate": _DATE2,
    "users": ["a", "b"],
    "foo": None,
    "bar": None,
    "baz": "baz",
    "user": {"phoneNumber": ""},
    "name": "n",
    "outputs": {"task1": {"value": 1, "text": "awesome1"}, "task2": {"value": 2}},
    "yaml_text": "string: string\nint: 123\nbool: true\nfloat: 1.23\ninstant: '1918-02-24T00:00:00Z'\n"
    "object:\n  child:\n    key: value\narray:\n  - string\n",
}

TABLE: list[tuple[str, str, str]] = [
    # -- operators (null-coalescing, ternary, contains, equals, ~, math, logic, is) ----------
    (
        "{{ inner.bla ?? block.test.child }}",
        "awesome",
        "K:expression/NullCoalescingExpressionTest.java",
    ),
    (
        "{{ block.test.child ?? inner.bla }}",
        "awesome",
        "K:expression/NullCoalescingExpressionTest.java",
    ),
    ("{{ block.test.child ?? null }}", "awesome", "K:expression/NullCoalescingExpressionTest.java"),
    (
        "{{ block[inner].child ?? null }}",
        "awesome",
        "K:expression/NullCoalescingExpressionTest.java",
    ),
    (
        "{{ block[missing].child ?? block[inner].child }}",
        "awesome",
        "K:expression/NullCoalescingExpressionTest.java",
    ),
    (
        "{{ block[missing].child ?? block[missing2].child ?? block[inner].child }}",
        "awesome",
        "K:expression/NullCoalescingExpressionTest.java",
    ),
    (
        "{{ missing ?? block.test.child }}",
        "awesome",
        "K:expression/NullCoalescingExpressionTest.java",
    ),
    ("{{ block.empty ?? 'UNDEFINED' }}", "{}", "K:expression/NullCoalescingExpressionTest.java"),
    ("{{ null ?? 'IS NULL' }}", "IS NULL", "K:expression/NullCoalescingExpressionTest.java"),
    (
        "{{ undefined ?? 'IS UNDEFINED' }}",
        "IS UNDEFINED",
        "K:expression/NullCoalescingExpressionTest.java",
    ),
    ("{{ null ??? 'IS NULL' }}", "", "K:expression/UndefinedCoalescingExpressionTest.java"),
    (
        "{{ undefined ??? 'IS UNDEFINED' }}",
        "IS UNDEFINED",
        "K:expression/UndefinedCoalescingExpressionTest.java",
    ),
    ("{% set baz = 'baz' %}{{ foo ?? bar ?? baz }}", "baz", "D:05.operator.md"),
    (
        "{{ inner.bla is not defined ? block.test.child : null }}",
        "awesome",
        "K:PebbleVariableRendererTest.java",
    ),
    (
        "{{ block.test.child is defined ? block.test.child : inner.bla }}",
        "awesome",
        "K:PebbleVariableRendererTest.java",
    ),
    ("{{ foo == null ? bar : baz }}", "", "D:05.operator.md"),
    ("{{ block[inner].child }}", "awesome", "K:PebbleVariableRendererTest.java"),
    (
        '{% if ["apple", "pear", "banana"] contains "apple" %}yes{% endif %}',
        "yes",
        "D:05.operator.md",
    ),
    (
        '{% if {"apple":"red", "banana":"yellow"} contains "banana" %}yes{% endif %}',
        "yes",
        "D:05.operator.md",
    ),
    (
        '{% if ["apple", "pear", "banana", "peach"] contains ["apple", "peach"] %}yes{% endif %}',
        "yes",
        "D:05.operator.md",
    ),
    ('{% if inner equals "test" %}yes{% endif %}', "yes", "D:05.operator.md"),
    ('{{ "apple" ~ "pear" ~ "banana" }}', "applepearbanana", "D:05.operator.md"),
    ("{% if 2 is even %}yes{% endif %}", "yes", "D:05.operator.md"),
    ("{% if 3 is not even %}yes{% endif %}", "yes", "D:05.operator.md"),
    ("{% if 2 is even and 3 is odd %}yes{% endif %}", "yes", "D:05.operator.md"),
    (
        "{% if (3 is not even) and (2 is odd or 3 is even) %}yes{% else %}no{% endif %}",
        "no",
        "D:05.operator.md",
    ),
    ("{{ 1 + 1 }}", "2", "D:05.operator.md"),
    ("{{ 3 - 2 }}", "1", "D:05.operator.md"),
    ("{{ 1 / 2 }}", "0.5", "D:05.operator.md"),
    ("{{ 11 % 7 }}", "4", "D:05.operator.md"),
    ("{{ 2 * 2 }}", "4", "D:05.operator.md"),
    # -- tests ------------------------------------------------------------------------------
    ("{% if missing is not defined %}yes{% endif %}", "yes", "D:07.test.md"),
    ("{% if block.empty is empty %}yes{% endif %}", "yes", "D:07.test.md"),
    (
        "{% if users is iterable %}{% for u in users %}{{ u }}{% endfor %}{% endif %}",
        "ab",
        "D:07.test.md",
    ),
    ("{% if '{\"test\": 1}' is json %}yes{% endif %}", "yes", "D:07.test.md"),
    ('{% if {"apple":"red", "banana":"yellow"} is map %}yes{% endif %}', "yes", "D:07.test.md"),
    ("{% if foo is null %}yes{% endif %}", "yes", "D:07.test.md"),
    ("{% if 3 is odd %}yes{% endif %}", "yes", "D:07.test.md"),
    # -- tags -------------------------------------------------------------------------------
    (
        "See some code {% raw %}{{ var }}{% endraw %}",
        "See some code {{ var }}",
        "K:PebbleVariableRendererTest.java",
    ),
    (
        "See some code {%raw%}{{ var }}{%endraw%}",
        "See some code {{ var }}",
        "K:PebbleVariableRendererTest.java",
    ),
    ("{% for i in range(0, 3) %}{{ i }},{% endfor %}", "0,1,2,3,", "D:04.function.md"),
    ("{% for i in range(0, 6, 2) %}{{ i }},{% endfor %}", "0,2,4,6,", "D:04.function.md"),
    ("{% for i in 0..3 %}{{ i }},{% endfor %}", "0,1,2,3,", "D:04.function.md"),
    (
        '{% block "post" %} content {% endblock %}{{ block("post") }}',
        " content  content ",
        "K:PebbleVariableRendererTest.java",
    ),
    # -- values as Kestra prints them --------------------------------------------------------
    ("{{ string }}", "string", "K:PebbleVariableRendererTest.java"),
    ("{{ int }}", "1", "K:PebbleVariableRendererTest.java"),
    ("{{ float }}", "1.123", "K:PebbleVariableRendererTest.java"),
    ("{{ vars.second.list }}", '["string",1,1.123]', "K:PebbleVariableRendererTest.java"),
    ("{{ bool }}", "true", "K:PebbleVariableRendererTest.java"),
    ("{{ zdate }}", "2013-09-08T16:19+02:00", "K:PebbleVariableRendererTest.java"),
    # -- date filters and functions ----------------------------------------------------------
    (
        "{{ date | date(format='iso', timeZone='Europe/Paris') }}",
        "2013-09-08T17:19:12.000000+02:00",
        "K:filters/DateFilterTest.java",
    ),
    (
        '{{ instant | date(format="iso_sec", timeZone="Europe/Paris") }}',
        "2013-09-08T17:19:12+02:00",
        "K:filters/DateFilterTest.java",
    ),
    (
        '{{ zoned | date(format="iso", timeZone="Europe/Paris") }}',
        "2013-09-08T17:19:12.123456+02:00",
        "K:filters/DateFilterTest.java",
    ),
    (
        '{{ local | date(format="yyyy-MM-dd HH:mm:ss.SSSSSSXXX", timeZone="Europe/Paris") }}',
        "2013-09-08 16:19:12.123456+02:00",
        "K:filters/DateFilterTest.java",
    ),
    (
        '{{ local | date(format="yyyy-MM-dd HH:mm:ss.SSSSSSXXX", timeZone="UTC") }}',
        "2013-09-08 16:19:12.123456Z",
        "K:filters/DateFilterTest.java",
    ),
    (
        '{{ "July 24, 2001" | date("yyyy-MM-dd", existingFormat="MMMM dd, yyyy") }}',
        "2001-07-24",
        "K:filters/DateFilterTest.java",
    ),
    (
        '{{ "2013-09-08T17:19:12+02:00" | date(timeZone="Europe/Paris") }}',
        "2013-09-08T17:19:12.000000+02:00",
        "K:filters/DateFilterTest.java",
    ),
    (
        '{{ "2013-09-08T17:19:12" | date(timeZone="Europe/Paris") }}',
        "2013-09-08T17:19:12.000000+02:00",
        "K:filters/DateFilterTest.java",
    ),
    (
        '{{ "2013-09-08" | date(timeZone="Europe/Paris") }}',
        "2013-09-08T00:00:00.000000+02:00",
        "K:filters/DateFilterTest.java",
    ),
    (
        '{{ zoned | timestamp(timeZone="Europe/Paris") }}',
        "1378653552",
        "K:filters/DateFilterTest.java",
    ),
    (
        "{{ (zoned | timestamp) > (zoned | dateAdd(-1, 'DAYS') | timestamp) }}",
        "true",
        "K:filters/DateFilterTest.java",
    ),
    (
        "{{ 'Tue, 08 Feb 2022 19:38:26 GMT' | date(existingFormat='rfc_1123_date_time', timeZone=\"Europe/Paris\") }}",
        "2022-02-08T20:38:26.000000+01:00",
        "K:filters/DateFilterTest.java",
    ),
    (
        '{{ zoned | timestampNano(timeZone="Europe/Paris") }}',
        "1378653552123456000",
        "K:filters/DateFilterTest.java",
    ),
    (
        '{{ zoned | timestampMicro(timeZone="Europe/Paris") }}',
        "1378653552000123456",
        "K:filters/DateFilterTest.java",
    ),
    (
        '{{ zoned | dateAdd(-1,"DAYS",timeZone="Europe/Paris")}}',
        "2013-09-07T17:19:12.123456+02:00",
        "K:filters/DateFilterTest.java",
    ),
    # -- JSON, YAML, jq ----------------------------------------------------------------------
    ("{{ vars.second.string | toJson }}", '"string"', "K:filters/ToJsonFilterTest.java"),
    ("{{ vars.second.int | toJson }}", "1", "K:filters/ToJsonFilterTest.java"),
    ("{{ vars.second.float | toJson }}", "1.123", "K:filters/ToJsonFilterTest.java"),
    ("{{ vars.second.list | toJson }}", '["string",1,1.123]', "K:filters/ToJsonFilterTest.java"),
    ("{{ vars.second.bool | toJson }}", "true", "K:filters/ToJsonFilterTest.java"),
    (
        '{{ {"empty_object":{}} | toJson }}',
        '{"empty_object":{}}',
        "K:filters/ToJsonFilterTest.java",
    ),
    ("{{ null | toJson }}", "null", "K:filters/ToJsonFilterTest.java"),
    ("{{ vars.second.string | json }}", '"string"', "K:filters/ToJsonFilterTest.java"),
    (
        '{{ fromJson(\'{"test1": 1, "test2": 2, "test3": 3}\').test1 }}',
        "1",
        "K:functions/FromJsonFunctionTest.java",
    ),
    (
        '{{ fromJson(\'{"test1": [{"test1": 666}, 2, 3], "test2": 2}\').test1[0].test1 }}',
        "666",
        "K:functions/FromJsonFunctionTest.java",
    ),
    ("{{ fromJson('[1, 2, 3]')[0] }}", "1", "K:functions/FromJsonFunctionTest.java"),
    (
        "{{ fromJson('{\"empty_object\":{}}') }}",
        '{"empty_object":{}}',
        "K:functions/FromJsonFunctionTest.java",
    ),
    ("{{ fromJson(null) }}", "", "K:functions/FromJsonFunctionTest.java"),
    (
        '{{ json(\'{"test1": 1, "test2": 2, "test3": 3}\').test1 }}',
        "1",
        "K:functions/FromJsonFunctionTest.java",
    ),
    ('{{ fromJson(\'{"bar": "\\u0063\\u0327"}\').bar }}', "c\u0327", "D:04.function.md"),
    ("{{ yaml(yaml_text).string }}", "string", "K:functions/YamlFunctionTest.java"),
    ("{{ yaml(yaml_text).int }}", "123", "K:functions/YamlFunctionTest.java"),
    ("{{ yaml(yaml_text).bool }}", "true", "K:functions/YamlFunctionTest.java"),
    ("{{ yaml(yaml_text).float }}", "1.23", "K:functions/YamlFunctionTest.java"),
    ("{{ yaml(yaml_text).instant }}", "1918-02-24T00:00:00Z", "K:functions/YamlFunctionTest.java"),
    ("{{ yaml(yaml_text).object.child.key }}", "value", "K:functions/YamlFunctionTest.java"),
    ("{{ yaml(yaml_text).array[0] }}", "string", "K:functions/YamlFunctionTest.java"),
    ("{{ yaml('foo: [666, 1, 2]').foo[0] }}", "666", "D:04.function.md"),
    ("{{ vars.second.string | yaml }}", "string\n", "K:filters/YamlFilterTest.java"),
    ("{{ vars.second.int | yaml }}", "1\n", "K:filters/YamlFilterTest.java"),
    ("{{ vars.second.float | yaml }}", "1.123\n", "K:filters/YamlFilterTest.java"),
    (
        "{{ vars.second.list | yaml }}",
        " - string\n - 1\n - 1.123\n",
        "K:filters/YamlFilterTest.java",
    ),
    ("{{ vars.second.bool | yaml }}", "true\n", "K:filters/YamlFilterTest.java"),
    ('{{ [1, 2, 3] | jq(".[0]") | first }}', "1", "K:filters/JqFilterTest.java"),
    ('{{ my_vars | jq(".test[0]") }}', "[1]", "K:filters/JqFilterTest.java"),
    ('{{ render(first) | jq(".second.third") }}', '["awesome"]', "K:filters/JqFilterTest.java"),
    ('{{ vars | jq(".second.string") }}', '["string"]', "K:filters/JqFilterTest.java"),
    ('{{ vars | jq(".second.float") | first }}', "1.123", "K:filters/JqFilterTest.java"),
    (
        '{{ vars | jq(".second.list") | first }}',
        '["string",1,1.123]',
        "K:filters/JqFilterTest.java",
    ),
    ('{{ vars | jq(".second.bool") | first }}', "true", "K:filters/JqFilterTest.java"),
    ('{{ {"second": [1, 2, 3]} | jq(".second[]") }}', "[1,2,3]", "K:filters/JqFilterTest.java"),
    (
        '{% set object = {"object": {"key": "value"}} | jq(".object") %}{{object[0].key}}',
        "value",
        "K:filters/JqFilterTest.java",
    ),
    # -- render() ----------------------------------------------------------------------------
    ("{{ r3 }}", "{{r2}}", "K:PebbleVariableRendererTest.java"),
    ("{{ render(r3, recursive=false) }}", "{{r1}}", "K:PebbleVariableRendererTest.java"),
    ("{{ render(r3) }}", "1", "K:PebbleVariableRendererTest.java"),
    ("{{ rmap }}", '{"third":"{{r3}}"}', "K:PebbleVariableRendererTest.java"),
    (
        "{{ render(rmap, recursive=false) }}",
        '{"third":"{{r2}}"}',
        "K:PebbleVariableRendererTest.java",
    ),
    ("{{ render(rmap) }}", '{"third":"1"}', "K:PebbleVariableRendererTest.java"),
    ("{{ render(int) }}", "1", "K:functions/RenderFunctionTest.java"),
    ("{{ render(bool) }}", "true", "K:functions/RenderFunctionTest.java"),
    ("{{ render(null) }}", "", "K:functions/RenderFunctionTest.java"),
    # -- string filters ----------------------------------------------------------------------
    ('{{ "Test\t\t\ntest*" | slugify }}', "test-test", "K:filters/SlugifyFilterTest.java"),
    ("{{ 'a.b.c' | substringBefore('.') }}", "a", "K:filters/SubstringFilterTest.java"),
    ("{{ 'a.b.c' | substringAfter(separator='.') }}", "b.c", "K:filters/SubstringFilterTest.java"),
    (
        "{{ 'a.b.c' | substringBeforeLast(separator='.') }}",
        "a.b",
        "K:filters/SubstringFilterTest.java",
    ),
    ("{{ 'a.b.c' | substringBeforeLast('.') }}", "a.b", "K:filters/SubstringFilterTest.java"),
    ("{{ 'a.b.c' | substringAfterLast('.') }}", "c", "K:filters/SubstringFilterTest.java"),
    ('{{ "Hello World" | startsWith("Hello") }}', "true", "K:filters/StartsWithFilterTest.java"),
    ('{{ "Hello World" | endsWith("World") }}', "true", "K:filters/EndsWithFilterTest.java"),
    (
        "{{ \"L'eau c'est la vie\" | escapeChar('single') }}",
        "L\\'eau c\\'est la vie",
        "K:filters/EscapeCharFilterTest.java",
    ),
    (
        "{{ '\"Hello\"' | escapeChar('double') }}",
        '\\"Hello\\"',
        "K:filters/EscapeCharFilterTest.java",
    ),
    (
        "{{ \"L'eau c'est la vie\" | escapeChar('shell') }}",
        "L'\\''eau c'\\''est la vie",
        "K:filters/EscapeCharFilterTest.java",
    ),
    ("{{ '' | escapeChar('shell') }}", "", "K:filters/EscapeCharFilterTest.java"),
    (
        "{{ 'Kestra rulez !' | urlencode | urldecode }}",
        "Kestra rulez !",
        "K:filters/UrlDecodeFilter.java",
    ),
    ("{{ null | indent(2) }}", "", "K:filters/IndentFilterTest.java"),
    ('{{ "\n\n" | indent(2) }}', "\n  \n  ", "K:filters/IndentFilterTest.java"),
    ("{{ 'string' | indent(2) }}", "string", "K:filters/IndentFilterTest.java"),
    ("{{ 1 | indent(2) }}", "1", "K:filters/IndentFilterTest.java"),
    (
        '{{ "first line\r\nsecond line" | indent(2) }}',
        "first line\r\n  second line",
        "K:filters/IndentFilterTest.java",
    ),
    (
        '{{ "first line\nsecond line" | indent(2, "\t") }}',
        "first line\n\t\tsecond line",
        "K:filters/IndentFilterTest.java",
    ),
    ('{{ "\n\n" | nindent(2) }}', "\n  \n  \n  ", "K:filters/NindentFilterTest.java"),
    ("{{ 'string' | nindent(2) }}", "\n  string", "K:filters/NindentFilterTest.java"),
    (
        '{{ "first line\r\nsecond line" | nindent(2) }}',
        "\r\n  first line\r\n  second line",
        "K:filters/NindentFilterTest.java",
    ),
    (
        "{{ 'john doe is john doe' | replace({'john': 'jane'}) }}",
        "jane doe is jane doe",
        "K:filters/ReplaceFilterTest.java",
    ),
    (
        "{{ 'aa1bb2cc3dd4ee5' | replace({'(\\\\d)': '-$1-'}, regexp=true) }}",
        "aa-1-bb-2-cc-3-dd-4-ee-5-",
        "K:filters/ReplaceFilterTest.java",
    ),
    ('{{ var | numberFormat("#.##") }}', "1.23", "K:PebbleVariableRendererTest.java"),
    ('{{ "12.3" | number }}', "12.3", "K:filters/NumberFilterTest.java"),
    ('{{ "hello" | md5 }}', "5d41402abc4b2a76b9719d911017c592", "K:filters/Md5FilterTest.java"),
    # -- collections and maps ----------------------------------------------------------------
    ('{{ "12.3" | number | className }}', "java.lang.Float", "K:filters/NumberFilterTest.java"),
    (
        '{{ "2147483647" | number | className }}',
        "java.lang.Integer",
        "K:filters/NumberFilterTest.java",
    ),
    (
        '{{ "9223372036854775807" | number | className }}',
        "java.lang.Long",
        "K:filters/NumberFilterTest.java",
    ),
    (
        "{{ \"9223372036854775807\" | number('BIGDECIMAL') | className }}",
        "java.math.BigDecimal",
        "K:filters/NumberFilterTest.java",
    ),
    (
        "{{ \"9223372036854775807\" | number('BIGINTEGER') | className }}",
        "java.math.BigInteger",
        "K:filters/NumberFilterTest.java",
    ),
    (
        "{{ \"9223372036854775807\" | number('DOUBLE') | className }}",
        "java.lang.Double",
        "K:filters/NumberFilterTest.java",
    ),
    (
        '{{ vars.second | jq(".string") | first | className }}',
        "java.lang.String",
        "K:filters/JqFilterTest.java",
    ),
    (
        '{{ vars.second | jq(".int") | first | className }}',
        "java.lang.Integer",
        "K:filters/JqFilterTest.java",
    ),
    (
        '{{ vars.second | jq(".float") | first | className }}',
        "java.lang.Float",
        "K:filters/JqFilterTest.java",
    ),
    (
        '{{ vars.second | jq(".bool") | first | className }}',
        "java.lang.Boolean",
        "K:filters/JqFilterTest.java",
    ),
    ('{{ vars.second | jq(".null") | first | className }}', "", "K:filters/JqFilterTest.java"),
    ("{{ [1, 2, 3] | jq('.') }}", "[[1,2,3]]", "D:03.filter/json.md"),
    ("{{ outputs | jq('.task1.value') | first }}", "1", "D:03.filter/json.md"),
    (
        "{{ [72, 88, 95, 85, 91] | jq('reduce .[] as $num (0; .+$num)') | first }}",
        "431",
        "D:03.filter/json.md",
    ),
    ("{{ [1, 2, 3] | toJson }}", "[1,2,3]", "D:03.filter/json.md"),
    ("{{ true | toJson }}", "true", "D:03.filter/json.md"),
    ('{{ "foo" | toJson }}', '"foo"', "D:03.filter/json.md"),
    ("{{ 'Mitch' | first }}", "M", "D:03.filter/object.md"),
    ("{{ 'Mitch' | last }}", "h", "D:03.filter/object.md"),
    ("{{ ['Alex', 'Joe', 'Bob'] | join(',') }}", "Alex,Joe,Bob", "D:03.filter/object.md"),
    ("{{ {'this': 'foo', 'that': 'bar'} | keys }}", '["this","that"]', "D:03.filter/object.md"),
    ("{{ [0, 1, 3] | keys }}", "[0,1,2]", "D:03.filter/object.md"),
    ("{{ {'this': 'foo', 'that': 'bar'} | values }}", '["foo","bar"]', "D:03.filter/object.md"),
    ("{{ [1, 2] | merge([3, 4]) }}", "[1,2,3,4]", "D:03.filter/object.md"),
    (
        "{{ ['apple', 'peach', 'pear', 'banana'] | slice(1,3) }}",
        '["peach","pear"]',
        "D:03.filter/object.md",
    ),
    ("{{ 'Mitchell' | slice(1,3) }}", "it", "D:03.filter/object.md"),
    (
        "{% set foo = \"one,two,three\" | split(',') %}{{ foo }}",
        '["one","two","three"]',
        "D:03.filter/object.md",
    ),
    (
        "{% set foo = \"one,two,three,four,five\" | split(',', 3) %}{{ foo }}",
        '["one","two","three,four,five"]',
        "D:03.filter/object.md",
    ),
    ("{% if users | length > 1 %}yes{% endif %}", "yes", "D:03.filter/object.md"),
    ("{% for user in users | reverse %}{{ user }}{% endfor %}", "ba", "D:03.filter/object.md"),
    ("{% for user in users | rsort %}{{ user }}{% endfor %}", "ba", "D:03.filter/object.md"),
    ("{% for user in users | sort %}{{ user }}{% endfor %}", "ab", "D:03.filter/object.md"),
    # -- Kestra's expression reference page (D:index.md) ------------------------------------
    ("{{ -7 | abs }}", "7", "D:index.md"),
    ('{{ 3.141592653 | numberFormat("#.##") }}', "3.14", "D:index.md"),
    ("{{ [1, 2, 3, 4, 5] | chunk(2) }}", "[[1,2],[3,4],[5]]", "D:index.md"),
    ("{{ ['1', '1', '2', '3'] | distinct }}", '["1","2","3"]', "D:index.md"),
    ("{{ ['apple', 'banana'] | first }}", "apple", "D:index.md"),
    ("{{ ['apple', 'banana'] | join(', ') }}", "apple, banana", "D:index.md"),
    ("{{ {'foo': 'bar', 'baz': 'qux'} | keys }}", '["foo","baz"]', "D:index.md"),
    ("{{ {'foo': 'bar', 'baz': 'qux'} | values }}", '["bar","qux"]', "D:index.md"),
    ("{{ ['apple', 'banana'] | last }}", "banana", "D:index.md"),
    ("{{ 'Mitch' | length }}", "5", "D:index.md"),
    ("{{ ['apple', 'banana'] | reverse }}", '["banana","apple"]', "D:index.md"),
    ("{{ [3, 1, 2] | rsort }}", "[3,2,1]", "D:index.md"),
    ("{{ ['apple', 'banana', 'cherry'] | slice(1, 2) }}", '["banana"]', "D:index.md"),
    ("{{ [3, 1, 2] | sort }}", "[1,2,3]", "D:index.md"),
    ("{{ 'apple,banana,cherry' | split(',') }}", '["apple","banana","cherry"]', "D:index.md"),
    (
        "{{ 'apple,banana,cherry,grape' | split(',', 2) }}",
        '["apple","banana,cherry,grape"]',
        "D:index.md",
    ),
    ('{{ "this is a long sentence." | abbreviate(7) }}', "this...", "D:03.filter/abbreviate.md"),
    ('{{ "dGVzdA==" | base64decode }}', "test", "D:index.md"),
    ('{{ "test" | base64encode }}', "dGVzdA==", "D:index.md"),
    ('{{ "article title" | capitalize }}', "Article title", "D:index.md"),
    ('{{ "article title" | title }}', "Article Title", "D:03.filter/title.md"),
    ('{{ user.phoneNumber | default("No phone number") }}', "No phone number", "D:index.md"),
    ("{{ \"Can't be here\" | escapeChar('single') }}", "Can\\'t be here", "D:index.md"),
    ('{{ "LOUD TEXT" | lower }}', "loud text", "D:index.md"),
    (
        '{{ "test" | sha256 }}',
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "D:index.md",
    ),
    ('{{ "hello world" | startsWith("hello") }}', "true", "D:index.md"),
    ('{{ "Hello World!" | slugify }}', "hello-world", "D:index.md"),
    ('{{ "a.b.c" | substringAfter(".") }}', "b.c", "D:index.md"),
    ('{{ "a.b.c" | substringAfterLast(".") }}', "c", "D:index.md"),
    ('{{ "a.b.c" | substringBefore(".") }}', "a", "D:index.md"),
    ('{{ "a.b.c" | substringBeforeLast(".") }}', "a.b", "D:index.md"),
    ('{{ "   padded text   " | trim }}', "padded text", "D:index.md"),
    ('{{ "quiet sentence" | upper }}', "QUIET SENTENCE", "D:index.md"),
    ('{{ "The+string+%C3%BC%40foo-bar" | urldecode }}', "The string \u00fc@foo-bar", "D:index.md"),
    ('{{ "The string \u00fc@foo-bar" | urlencode }}', "The+string+%C3%BC%40foo-bar", "D:index.md"),
    ("{{ 123 | string }}", "123", "D:index.md"),
    ('{{ "key: value" | indent(2) }}', "key: value", "D:index.md"),
    ("{{ fromJson('{\"foo\": [666, 1, 2]}').foo[0] }}", "666", "D:index.md"),
    ("{{ max(5, 10, 15) }}", "15", "D:index.md"),
    ("{{ min(20, 80, 5) }}", "5", "D:index.md"),
    ("{{ renderOnce(r3) }}", "{{r1}}", "D:index.md"),
    ("{{ 'SUCCESS' isIn ['SUCCESS', 'KILLED', 'CANCELLED'] }}", "true", "D:index.md"),
    ("{{ 'RUNNING' isIn ['SUCCESS', 'KILLED'] }}", "false", "D:index.md"),
    ("{{ foo ? 'yes' : 'no' }}", "no", "D:index.md"),
    ("{% if name is not null %}Name exists{% endif %}", "Name exists", "D:index.md"),
    (
        "{% for a in [] %}x{% else %}No articles available.{% endfor %}",
        "No articles available.",
        "D:index.md",
    ),
    (
        '{% set category = "sports" %}{% if category == "news" %}n{% elseif category == "sports" %}s{% else %}x{% endif %}',
        "s",
        "D:index.md",
    ),
    (
        '{% macro input(type, name) %}{{ name }} is of type {{ type }}{% endmacro %}{{ input("text", "example") }}',
        "example is of type text",
        "D:index.md",
    ),
    ("{% filter lower | title %}hello world{% endfilter %}", "Hello World", "D:index.md"),
    ('{# This is a comment #}{{ "Visible content" }}', "Visible content", "D:index.md"),
    ("{{ 2 + 2 / (10 % 3) * (8 - 1) }}", "16.0", "D:index.md"),
    ("{{ list | chunk(2) }}", "[[1,2],[3,4],[5,6],[7,8],[9]]", "K:filters/ChunkFilterTest.java"),
    ("{{ vars.second.list | keys }}", "[0,1,2]", "K:filters/KeysFilterTest.java"),
    ("{{ vars.second.map | keys }}", '["string","int","float"]', "K:filters/KeysFilterTest.java"),
    ("{{ vars.second.map | values }}", '["string",1,1.123]', "K:filters/ValuesFilterTest.java"),
    ("{{ nestedList | flatten | first }}", "a", "K:filters/FlattenFilterTest.java"),
]

#: Rows rendered differently here, with the reason (see docs/templating.md).
DIFFERENT = {
    '{% block "post" %} content {% endblock %}{{ block("post") }}': "Pebble's block tag "
    "with a string name and the block() function have no Jinja2 equivalent from a string",
    '{{ "first line\r\nsecond line" | indent(2) }}': "Jinja2's lexer reads a CR LF written "
    "inside the template as LF (a CR LF inside a variable's value is kept)",
    '{{ "first line\r\nsecond line" | nindent(2) }}': "Jinja2's lexer reads a CR LF written "
    "inside the template as LF (a CR LF inside a variable's value is kept)",
}


def _id(row: tuple[str, str, str]) -> str:
    return row[0][:60]


@pytest.mark.parametrize(("expression", "expected", "cite"), TABLE, ids=[_id(r) for r in TABLE])
def test_kestra_expression_renders_as_kestra_renders_it(
    expression: str, expected: str, cite: str
) -> None:
    if expression in DIFFERENT:
        pytest.xfail(DIFFERENT[expression])
    assert cite.startswith(("K:", "D:"))
    assert Renderer().render(expression, CONTEXT) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "{{ missing ?? missing2 }}",  # K:expression/NullCoalescingExpressionTest.java
        "{{ missing is defined ? missing : missing2 }}",  # K:PebbleVariableRendererTest.java
        "{{ test | chunk(2) }}",  # K:filters/ChunkFilterTest.java (test = 1)
        "{{ fromJson('{not: json}') }}",  # K:functions/FromJsonFunctionTest.java
        "{{ 'Hello' | escapeChar('foo') }}",  # K:filters/EscapeCharFilterTest.java
    ],
)
def test_kestra_expression_that_fails_in_kestra_fails_here(expression: str) -> None:
    from kestra_git_tasks.errors import TemplateError

    with pytest.raises(TemplateError):
        Renderer().render(expression, {**CONTEXT, "test": 1})


def test_count_rendered_identically() -> None:
    """The closing note of the table: how many rows render exactly as Kestra renders them."""
    identical = len(TABLE) - len(DIFFERENT)
    assert (len(TABLE), identical) == (226, 223)  # stated in docs/templating.md
