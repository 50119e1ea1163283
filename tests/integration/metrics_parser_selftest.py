#!/usr/bin/env python3
"""The strict Prometheus text parser (metrics_promparse.py) that the metrics and HA tests rely on
must accept a valid exposition and reject each kind of malformed one, or those tests could not
fail. One good body, then one defect per case. (One process: python start-up is the cost here.)"""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metrics_promparse as mp

GOOD = '# HELP a_total Things done.\n# TYPE a_total counter\na_total{kind="Host"} 3\na_total{kind="Cluster",code="a\\"b\\\\c\\nd"} 0\n# HELP g A gauge.\n# TYPE g gauge\ng -1.5e3\n# TYPE h_seconds histogram\nh_seconds_bucket{kind="Host",le="0.1"} 1\nh_seconds_bucket{kind="Host",le="1"} 2\nh_seconds_bucket{kind="Host",le="+Inf"} 4\nh_seconds_sum{kind="Host"} 7.25\nh_seconds_count{kind="Host"} 4\n# TYPE u untyped\nu NaN 1700000000000\n'

BAD = [
    ('no trailing newline', '# TYPE g gauge\ng 1'),
    ('sample without TYPE', 'x 1\n'),
    ('bad metric name', '# TYPE 1x gauge\n1x 1\n'),
    ('bad label name', '# TYPE g gauge\ng{1a="x"} 1\n'),
    ('unquoted label value', '# TYPE g gauge\ng{a=x} 1\n'),
    ('bad escape', '# TYPE g gauge\ng{a="\\t"} 1\n'),
    ('duplicate label', '# TYPE g gauge\ng{a="1",a="2"} 1\n'),
    ('bad value', '# TYPE g gauge\ng one\n'),
    ('missing value', '# TYPE g gauge\ng{a="1"}\n'),
    ('two spaces', '# TYPE g gauge\ng  1\n'),
    ('bad timestamp', '# TYPE g gauge\ng 1 12.5\n'),
    ('duplicate series', '# TYPE g gauge\ng{a="1"} 1\ng{a="1"} 2\n'),
    ('second TYPE', '# TYPE g gauge\n# TYPE g gauge\ng 1\n'),
    ('unknown type', '# TYPE g meter\ng 1\n'),
    ('HELP after samples', '# TYPE g gauge\ng 1\n# HELP g late\n'),
    ('non-contiguous family', '# TYPE g gauge\n# TYPE k gauge\ng{a="1"} 1\nk 1\ng{a="2"} 1\n'),
    ('empty line', '# TYPE g gauge\n\ng 1\n'),
    ('counter without _total', '# TYPE c counter\nc 1\n'),
    ('negative counter', '# TYPE c_total counter\nc_total -1\n'),
    ('histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'),
    ('histogram decreasing buckets', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="2"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n'),
    ('histogram +Inf != count', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n'),
    ('histogram without sum', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 2\n'),
    ('histogram bounds not increasing', '# TYPE h histogram\nh_bucket{le="2"} 1\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'),
    ('bucket without le', '# TYPE h histogram\nh_bucket 1\nh_sum 1\nh_count 1\n'),
    ('gauge with a suffix sample', '# TYPE g gauge\ng_count 1\n'),
]


def main():
    fails = 0
    types, series = mp.parse(GOOD)
    want = {"a_total{kind=\"Host\"}": 3, "h_seconds_count{kind=\"Host\"}": 4, "g": -1500}
    for k, v in want.items():
        if series.get(k) != v:
            print(f"FAIL: {k} = {series.get(k)}, want {v}")
            fails += 1
    if len(series) != 9 or len(types) != 4:
        print(f"FAIL: {len(series)} series, {len(types)} families; want 9 and 4")
        fails += 1
    if series.get('a_total{code="a\\"b\\\\c\\nd",kind="Cluster"}') != 0:
        print("FAIL: escaped label values not decoded and re-escaped: " + " ".join(series))
        fails += 1
    for name, body in BAD:
        try:
            mp.parse(body)
        except mp.ParseError as e:
            print(f"ok: rejects {name} ({e})")
            continue
        print(f"FAIL: accepted {name}")
        fails += 1
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
