use super::*;
use BackupKind::{Manual, PreUpgrade, Scheduled};
use KeepReason as R;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn point(key: &str, created: &str, kind: BackupKind) -> PointFacts {
    PointFacts {
        key: key.to_owned(),
        created: at(created),
        kind,
    }
}

fn rules() -> RetentionRules {
    RetentionRules::none(chrono_tz::UTC)
}

/// Keys deleted, newest first.
fn deleted(verdicts: &[Verdict]) -> Vec<&str> {
    verdicts
        .iter()
        .filter(|v| v.decision == Decision::Delete)
        .map(|v| v.key.as_str())
        .collect()
}

fn reasons_of(verdicts: &[Verdict], key: &str) -> Vec<KeepReason> {
    match &verdicts.iter().find(|v| v.key == key).unwrap().decision {
        Decision::Keep(reasons) => reasons.iter().copied().collect(),
        Decision::Delete => vec![],
    }
}

fn five_daily() -> Vec<PointFacts> {
    vec![
        point("d1", "2026-03-01T02:00:00Z", Scheduled),
        point("d2", "2026-03-02T02:00:00Z", Scheduled),
        point("d3", "2026-03-03T02:00:00Z", Scheduled),
        point("d4", "2026-03-04T02:00:00Z", Scheduled),
        point("d5", "2026-03-05T02:00:00Z", Scheduled),
    ]
}

const NOW: &str = "2026-03-05T12:00:00Z";

#[test]
fn table_of_policies() {
    struct Case {
        name: &'static str,
        points: Vec<PointFacts>,
        rules: Option<RetentionRules>,
        deleted: Vec<&'static str>,
    }
    let cases = vec![
        Case {
            name: "no policy keeps everything",
            points: five_daily(),
            rules: None,
            deleted: vec![],
        },
        Case {
            name: "keepLast keeps the newest N",
            points: five_daily(),
            rules: Some(RetentionRules {
                keep_last: Some(3),
                ..rules()
            }),
            deleted: vec!["d2", "d1"],
        },
        Case {
            name: "keepLast larger than the set keeps all",
            points: five_daily(),
            rules: Some(RetentionRules {
                keep_last: Some(10),
                ..rules()
            }),
            deleted: vec![],
        },
        Case {
            name: "maxAge keeps points younger than the age (boundary inclusive)",
            points: five_daily(),
            rules: Some(RetentionRules {
                max_age: Some(chrono::Duration::hours(58)),
                ..rules()
            }),
            deleted: vec!["d2", "d1"],
        },
        Case {
            name: "maxAge that excludes everything still keeps the newest",
            points: five_daily(),
            rules: Some(RetentionRules {
                max_age: Some(chrono::Duration::hours(1)),
                ..rules()
            }),
            deleted: vec!["d4", "d3", "d2", "d1"],
        },
        Case {
            name: "rules combine as a union",
            points: five_daily(),
            rules: Some(RetentionRules {
                keep_last: Some(1),
                max_age: Some(chrono::Duration::hours(40)),
                ..rules()
            }),
            deleted: vec!["d3", "d2", "d1"],
        },
        Case {
            name: "only keepPreUpgrade set never deletes routine points",
            points: five_daily(),
            rules: Some(RetentionRules {
                keep_pre_upgrade: Some(1),
                ..rules()
            }),
            deleted: vec![],
        },
        Case {
            name: "pre-upgrade points count separately from keepLast",
            points: vec![
                point("s1", "2026-03-01T00:00:00Z", Scheduled),
                point("p1", "2026-03-02T00:00:00Z", PreUpgrade),
                point("s2", "2026-03-03T00:00:00Z", Manual),
                point("p2", "2026-03-04T00:00:00Z", PreUpgrade),
                point("p3", "2026-03-04T01:00:00Z", PreUpgrade),
                point("s3", "2026-03-05T00:00:00Z", Scheduled),
            ],
            rules: Some(RetentionRules {
                keep_last: Some(2),
                keep_pre_upgrade: Some(2),
                ..rules()
            }),
            deleted: vec!["p1", "s1"],
        },
        Case {
            name: "pre-upgrade points are all kept without keepPreUpgrade",
            points: vec![
                point("p1", "2026-03-01T00:00:00Z", PreUpgrade),
                point("s1", "2026-03-02T00:00:00Z", Scheduled),
                point("s2", "2026-03-03T00:00:00Z", Scheduled),
            ],
            rules: Some(RetentionRules {
                keep_last: Some(1),
                ..rules()
            }),
            deleted: vec!["s1"],
        },
        Case {
            name: "keepDaily keeps the newest point of each of the last N days",
            points: vec![
                point("a1", "2026-03-03T01:00:00Z", Scheduled),
                point("a2", "2026-03-03T13:00:00Z", Scheduled),
                point("b1", "2026-03-04T01:00:00Z", Scheduled),
                point("b2", "2026-03-04T13:00:00Z", Scheduled),
                point("c1", "2026-03-05T01:00:00Z", Scheduled),
                point("c2", "2026-03-05T11:00:00Z", Scheduled),
            ],
            rules: Some(RetentionRules {
                keep_daily: Some(2),
                ..rules()
            }),
            deleted: vec!["c1", "b1", "a2", "a1"],
        },
        Case {
            name: "keepDaily counts days that have points, not calendar days",
            points: vec![
                point("jan", "2026-01-10T00:00:00Z", Scheduled),
                point("feb", "2026-02-10T00:00:00Z", Scheduled),
                point("mar", "2026-03-05T00:00:00Z", Scheduled),
            ],
            rules: Some(RetentionRules {
                keep_daily: Some(2),
                ..rules()
            }),
            deleted: vec!["jan"],
        },
        Case {
            name: "keepWeekly uses ISO weeks (Monday starts a week)",
            points: vec![
                point("sun", "2026-03-01T10:00:00Z", Scheduled),
                point("mon", "2026-03-02T10:00:00Z", Scheduled),
                point("thu", "2026-03-05T10:00:00Z", Scheduled),
                point("prev-sat", "2026-02-28T10:00:00Z", Scheduled),
            ],
            rules: Some(RetentionRules {
                keep_weekly: Some(2),
                ..rules()
            }),
            deleted: vec!["mon", "prev-sat"],
        },
        Case {
            name: "keepMonthly keeps the newest point per month",
            points: vec![
                point("jan-a", "2026-01-05T00:00:00Z", Scheduled),
                point("jan-b", "2026-01-25T00:00:00Z", Scheduled),
                point("feb-a", "2026-02-05T00:00:00Z", Scheduled),
                point("feb-b", "2026-02-25T00:00:00Z", Scheduled),
                point("mar-a", "2026-03-01T00:00:00Z", Scheduled),
            ],
            rules: Some(RetentionRules {
                keep_monthly: Some(2),
                ..rules()
            }),
            deleted: vec!["feb-a", "jan-b", "jan-a"],
        },
        Case {
            name: "empty set decides nothing",
            points: vec![],
            rules: Some(RetentionRules {
                keep_last: Some(1),
                ..rules()
            }),
            deleted: vec![],
        },
    ];
    for case in cases {
        let verdicts = select(&case.points, case.rules.as_ref(), at(NOW), None);
        assert_eq!(deleted(&verdicts), case.deleted, "{}", case.name);
        assert_eq!(verdicts.len(), case.points.len(), "{}", case.name);
    }
}

#[test]
fn newest_point_is_kept_even_when_it_is_a_pre_upgrade_beyond_the_count() {
    let points = vec![
        point("p1", "2026-03-04T00:00:00Z", PreUpgrade),
        point("p2", "2026-03-05T00:00:00Z", PreUpgrade),
        point("s1", "2026-03-01T00:00:00Z", Scheduled),
    ];
    let policy = RetentionRules {
        keep_last: Some(1),
        keep_pre_upgrade: Some(1),
        ..rules()
    };
    let verdicts = select(&points, Some(&policy), at(NOW), None);
    assert_eq!(deleted(&verdicts), vec!["p1"]);
    assert_eq!(reasons_of(&verdicts, "p2"), vec![R::Newest, R::PreUpgrade]);
}

#[test]
fn just_written_point_is_kept_even_if_its_clock_lags() {
    let mut points = five_daily();
    points.push(point("late", "2026-02-01T00:00:00Z", Manual));
    let policy = RetentionRules {
        keep_last: Some(2),
        ..rules()
    };
    let verdicts = select(&points, Some(&policy), at(NOW), Some("late"));
    assert_eq!(reasons_of(&verdicts, "late"), vec![R::JustWritten]);
    assert_eq!(deleted(&verdicts), vec!["d3", "d2", "d1"]);
}

#[test]
fn each_kept_point_names_every_rule_that_holds_it() {
    let policy = RetentionRules {
        keep_last: Some(1),
        keep_daily: Some(2),
        max_age: Some(chrono::Duration::days(1)),
        ..rules()
    };
    let verdicts = select(&five_daily(), Some(&policy), at(NOW), Some("d5"));
    assert_eq!(
        reasons_of(&verdicts, "d5"),
        vec![R::Newest, R::JustWritten, R::KeepLast, R::MaxAge, R::Daily]
    );
    assert_eq!(reasons_of(&verdicts, "d4"), vec![R::Daily]);
    assert_eq!(verdicts[0].key, "d5", "newest first");
}

#[test]
fn calendar_buckets_follow_the_policy_time_zone() {
    // 23:30 and 00:30 UTC are different UTC days but the same day in New York (18:30 and 19:30).
    let points = vec![
        point("late", "2026-03-04T23:30:00Z", Scheduled),
        point("early", "2026-03-05T00:30:00Z", Scheduled),
    ];
    let utc = RetentionRules {
        keep_daily: Some(2),
        ..rules()
    };
    assert_eq!(
        deleted(&select(&points, Some(&utc), at(NOW), None)),
        Vec::<&str>::new()
    );
    let new_york = RetentionRules {
        time_zone: chrono_tz::America::New_York,
        ..utc
    };
    assert_eq!(
        deleted(&select(&points, Some(&new_york), at(NOW), None)),
        vec!["late"]
    );
}

#[test]
fn three_months_of_points_with_a_grandfather_father_son_policy() {
    // Two points a day for 90 days, plus a pre-upgrade point every 30 days.
    let start = at("2026-01-01T06:00:00Z");
    let mut points = Vec::new();
    for day in 0..90 {
        for hour in [0, 12] {
            let created = start + chrono::Duration::days(day) + chrono::Duration::hours(hour);
            points.push(PointFacts {
                key: format!("s-{day:02}-{hour:02}"),
                created,
                kind: Scheduled,
            });
        }
        if day % 30 == 0 {
            points.push(PointFacts {
                key: format!("p-{day:02}"),
                created: start + chrono::Duration::days(day) + chrono::Duration::hours(1),
                kind: PreUpgrade,
            });
        }
    }
    let now = start + chrono::Duration::days(90);
    let policy = RetentionRules {
        keep_daily: Some(7),
        keep_weekly: Some(4),
        keep_monthly: Some(3),
        keep_pre_upgrade: Some(2),
        ..rules()
    };
    let verdicts = select(&points, Some(&policy), now, None);
    let kept: Vec<&str> = verdicts
        .iter()
        .filter(|v| v.decision != Decision::Delete)
        .map(|v| v.key.as_str())
        .collect();
    // Daily: the 12:00 point of days 83..=89; pre-upgrade keeps days 60 and 30 (not 0).
    let expected: Vec<String> = (83..90).map(|d| format!("s-{d:02}-12")).collect();
    for key in &expected {
        assert!(kept.contains(&key.as_str()), "{key} missing from {kept:?}");
    }
    assert!(kept.contains(&"p-60") && kept.contains(&"p-30") && !kept.contains(&"p-00"));
    // 2026-03-31 is day 89, a Tuesday. ISO weeks start on Monday: week of Mar 30 (day 89) and of Mar 23 (its
    // Sunday, day 88) are covered by the daily rule; the older two weeks add their Sundays, days 80 and 73.
    for key in ["s-80-12", "s-73-12"] {
        assert!(kept.contains(&key), "weekly {key} missing");
    }
    // Months: March is day 89; February ends at day 58; January at day 30.
    for key in ["s-58-12", "s-30-12"] {
        assert!(kept.contains(&key), "monthly {key} missing");
    }
    assert_eq!(kept.len(), 7 + 2 + 2 + 2, "kept {kept:?}");
}

#[test]
fn an_age_before_the_calendar_keeps_every_point_instead_of_panicking() {
    let points = five_daily();
    let now = at("2026-03-06T12:00:00Z");
    // `99999999w` passes validation; `now - age` lies before chrono's calendar.
    let rules = RetentionRules {
        max_age: Some(chrono::Duration::seconds(99_999_999 * 7 * 24 * 3600)),
        ..rules()
    };
    let verdicts = select(&points, Some(&rules), now, None);
    assert!(deleted(&verdicts).is_empty(), "{verdicts:?}");
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn kind() -> impl Strategy<Value = BackupKind> {
        prop_oneof![Just(Scheduled), Just(Manual), Just(PreUpgrade)]
    }

    fn any_rules() -> impl Strategy<Value = RetentionRules> {
        let count = || proptest::option::of(0usize..50);
        (
            (count(), count(), count()),
            (count(), count()),
            proptest::option::of(0i64..=chrono::Duration::MAX.num_seconds()),
        )
            .prop_map(
                |((keep_last, keep_daily, keep_weekly), (keep_monthly, keep_pre_upgrade), age)| {
                    RetentionRules {
                        keep_last,
                        max_age: age.map(chrono::Duration::seconds),
                        keep_daily,
                        keep_weekly,
                        keep_monthly,
                        keep_pre_upgrade,
                        time_zone: chrono_tz::Europe::Berlin,
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        /// Whatever the policy and points: no panic, every point decided once, the newest and the just-written
        /// point kept.
        #[test]
        fn retention_never_panics_and_keeps_the_newest_and_the_just_written(
            created in proptest::collection::vec((0i64..4_000_000_000, kind()), 1..30),
            rules in proptest::option::of(any_rules()),
            now_offset in 0i64..4_000_000_000,
            just_written in proptest::option::of(0usize..30),
        ) {
            let points: Vec<PointFacts> = created
                .iter()
                .enumerate()
                .map(|(i, (seconds, kind))| PointFacts {
                    key: format!("p/ns/c/{i:03}.snap"),
                    created: DateTime::from_timestamp(*seconds, 0).unwrap(),
                    kind: *kind,
                })
                .collect();
            let now = DateTime::from_timestamp(now_offset, 0).unwrap();
            let written = just_written.and_then(|i| points.get(i)).map(|p| p.key.clone());
            let verdicts = select(&points, rules.as_ref(), now, written.as_deref());
            prop_assert_eq!(verdicts.len(), points.len());
            let newest = points
                .iter()
                .max_by(|a, b| a.created.cmp(&b.created).then_with(|| a.key.cmp(&b.key)))
                .unwrap();
            let kept = |key: &str| {
                verdicts
                    .iter()
                    .any(|v| v.key == key && matches!(v.decision, Decision::Keep(_)))
            };
            prop_assert!(kept(&newest.key), "the newest point {} was deleted", newest.key);
            if let Some(written) = &written {
                prop_assert!(kept(written), "the just-written point {written} was deleted");
            }
        }
    }
}
