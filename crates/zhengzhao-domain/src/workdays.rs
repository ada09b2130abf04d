//! The working-day calendar: which days count toward a deadline measured in
//! working days (Art. 9: an emergency backlog is completed within 3 working
//! days after the fault is cleared).
//!
//! A working day is a weekday (Monday to Friday) that the State Council's
//! arrangement does not make a `holiday`, or a weekend day it makes a
//! `workday` (调休上班). The arrangement is published year by year, late in
//! the year before, so the calendar holds whole years: the file shipped with
//! the program ([`WorkCalendar::builtin`]) and any newer file the operator
//! imports ([`WorkCalendar::merge`]). A deadline that runs into a year the
//! calendar does not hold is still computed, counting that year's weekdays,
//! and marked provisional: it never fails and never blocks.
//!
//! File format (`data/cn-holidays.tsv`): UTF-8, one day a line,
//! `date<TAB>kind<TAB>name`, where `date` is `YYYY-MM-DD` and `kind` is
//! `holiday` or `workday`; lines starting with `#` and blank lines are skipped.

use std::collections::BTreeMap;

use jiff::civil::{Date, Weekday};
use serde::Serialize;
use thiserror::Error;

/// The arrangement shipped with this release (2024–2026).
const BUILTIN: &str = include_str!("../data/cn-holidays.tsv");

/// Days that are statutory holidays on the same date every year, under the
/// holiday regulation both before and after its 2024 revision (元旦 1 January,
/// 劳动节 1 May, 国庆节 1–3 October). Every year's arrangement lists them as
/// `holiday`, weekend or not; a year without one of them is only partly given.
const FIXED_HOLIDAYS: [(i8, i8); 5] = [(1, 1), (5, 1), (10, 1), (10, 2), (10, 3)];

/// What the arrangement says about one date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A day off, also when it falls on a weekend inside a holiday block.
    Holiday,
    /// A make-up working day on a Saturday or Sunday.
    Workday,
}

/// The working-day calendar: the holiday arrangement of each year it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkCalendar {
    /// Year → the dates that year's arrangement names. A year is present only
    /// when it was given whole.
    years: BTreeMap<i16, BTreeMap<Date, Kind>>,
}

/// When something measured in working days is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Deadline {
    /// The last day on which it is on time.
    pub due_on: Date,
    /// Some of the days counted lie in a year the calendar does not hold; they
    /// were counted as plain weekdays, so the date may move once that year's
    /// arrangement is imported.
    pub provisional: bool,
}

impl WorkCalendar {
    /// The arrangement shipped with this release (`data/cn-holidays.tsv`).
    ///
    /// The file is part of the build and a unit test parses it, so it cannot
    /// fail in a tested build; if it ever did, the result is an empty calendar,
    /// under which every deadline is counted in weekdays and provisional.
    pub fn builtin() -> Self {
        match Self::parse(BUILTIN) {
            Ok(calendar) => calendar,
            Err(_) => Self {
                years: BTreeMap::new(),
            },
        }
    }

    /// Read an arrangement file (format in the module documentation).
    ///
    /// Strict: every row must be a real date, a known kind and a name; no date
    /// may appear twice; a make-up workday must be a Saturday or Sunday; and
    /// every year with a row must be given whole (its fixed statutory holidays,
    /// 1 January, 1 May and 1–3 October, are all there). A file without any
    /// row is an error too. The first problem found is returned, with its line
    /// number (1-based, comment lines counted).
    pub fn parse(text: &str) -> Result<Self, CalendarError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut years: BTreeMap<i16, BTreeMap<Date, Kind>> = BTreeMap::new();
        // Line of each date, for duplicates; first line of each year.
        let mut line_of: BTreeMap<Date, usize> = BTreeMap::new();
        let mut first_line: BTreeMap<i16, usize> = BTreeMap::new();

        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            if raw.starts_with('#') || raw.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = raw.split('\t').collect();
            let [date_text, kind_text, name] = fields.as_slice() else {
                return Err(CalendarError::Fields {
                    line,
                    found: fields.len(),
                });
            };
            let date = parse_date(date_text).ok_or_else(|| CalendarError::Date {
                line,
                text: (*date_text).to_owned(),
            })?;
            let kind = match *kind_text {
                "holiday" => Kind::Holiday,
                "workday" => Kind::Workday,
                other => {
                    return Err(CalendarError::Kind {
                        line,
                        text: other.to_owned(),
                    });
                }
            };
            if name.trim().is_empty() {
                return Err(CalendarError::Name { line });
            }
            if let Some(&first) = line_of.get(&date) {
                return Err(CalendarError::Duplicate { line, date, first });
            }
            if kind == Kind::Workday && !is_weekend(date) {
                return Err(CalendarError::WorkdayOnWeekday {
                    line,
                    date,
                    weekday: date.weekday(),
                });
            }
            line_of.insert(date, line);
            first_line.entry(date.year()).or_insert(line);
            years.entry(date.year()).or_default().insert(date, kind);
        }

        if years.is_empty() {
            return Err(CalendarError::Empty);
        }
        for (&year, days) in &years {
            for (month, day) in FIXED_HOLIDAYS {
                let Ok(fixed) = Date::new(year, month, day) else {
                    continue;
                };
                if days.get(&fixed) != Some(&Kind::Holiday) {
                    return Err(CalendarError::PartialYear {
                        line: first_line.get(&year).copied().unwrap_or(0),
                        year,
                        missing: fixed,
                    });
                }
            }
        }
        Ok(Self { years })
    }

    /// The years this calendar holds, in ascending order.
    pub fn years(&self) -> impl Iterator<Item = i16> {
        self.years.keys().copied()
    }

    /// Take in a newer arrangement: each year `newer` holds replaces that
    /// year here whole (rows the old file had for it and the new one lacks
    /// are gone); years only this calendar holds stay.
    pub fn merge(&mut self, newer: WorkCalendar) {
        self.years.extend(newer.years);
    }

    /// Whether `date` is a working day, or `None` when the calendar does not
    /// hold its year.
    pub fn is_working_day(&self, date: Date) -> Option<bool> {
        let days = self.years.get(&date.year())?;
        Some(match days.get(&date) {
            Some(Kind::Holiday) => false,
            Some(Kind::Workday) => true,
            None => !is_weekend(date),
        })
    }

    /// The `n`-th working day strictly after `start` (`n = 0` gives `start`).
    ///
    /// Days in a year the calendar does not hold are counted as plain
    /// weekdays and make the result provisional. Never fails: should the count
    /// run past the last date jiff can represent (9999-12-31), that date is
    /// returned, provisional.
    pub fn add_working_days(&self, start: Date, n: u32) -> Deadline {
        let mut day = start;
        let mut counted = 0;
        let mut provisional = false;
        while counted < n {
            day = match day.tomorrow() {
                Ok(next) => next,
                Err(_) => {
                    return Deadline {
                        due_on: day,
                        provisional: true,
                    };
                }
            };
            let working = match self.is_working_day(day) {
                Some(working) => working,
                None => {
                    provisional = true;
                    !is_weekend(day)
                }
            };
            if working {
                counted += 1;
            }
        }
        Deadline {
            due_on: day,
            provisional,
        }
    }

    /// From 1 November on, next year when the calendar does not hold it: the
    /// arrangement is usually published in November, and the operator should
    /// import it before deadlines run into the new year.
    pub fn missing_next_year(&self, today: Date) -> Option<i16> {
        if today.month() < 11 {
            return None;
        }
        // No year after 9999 can be held (or represented as a date).
        let next = today.year().checked_add(1)?;
        let representable = next <= Date::MAX.year();
        (representable && !self.years.contains_key(&next)).then_some(next)
    }
}

/// `YYYY-MM-DD` and nothing else (jiff also reads `20240201` and other ISO
/// 8601 forms), and a real date.
fn parse_date(text: &str) -> Option<Date> {
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return None;
    }
    text.parse::<Date>().ok()
}

fn is_weekend(date: Date) -> bool {
    matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

fn weekday_zh(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Monday => "周一",
        Weekday::Tuesday => "周二",
        Weekday::Wednesday => "周三",
        Weekday::Thursday => "周四",
        Weekday::Friday => "周五",
        Weekday::Saturday => "周六",
        Weekday::Sunday => "周日",
    }
}

/// Why an arrangement file was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CalendarError {
    #[error("line {line}: expected 3 tab-separated fields (date, kind, name), got {found}")]
    Fields { line: usize, found: usize },
    #[error("line {line}: '{text}' is not a real date written YYYY-MM-DD")]
    Date { line: usize, text: String },
    #[error("line {line}: kind must be 'holiday' or 'workday', got '{text}'")]
    Kind { line: usize, text: String },
    #[error("line {line}: the name is empty")]
    Name { line: usize },
    #[error("line {line}: {date} is listed twice (first on line {first})")]
    Duplicate {
        line: usize,
        date: Date,
        first: usize,
    },
    #[error(
        "line {line}: make-up workday {date} is a {weekday:?}; make-up workdays fall on a Saturday or Sunday"
    )]
    WorkdayOnWeekday {
        line: usize,
        date: Date,
        weekday: Weekday,
    },
    /// `line` is the year's first row.
    #[error(
        "line {line}: year {year} is only partly given: there is no holiday row for {missing}; give the whole year's arrangement (a row of a neighbouring year goes with the whole of that year)"
    )]
    PartialYear {
        line: usize,
        year: i16,
        missing: Date,
    },
    #[error("the file has no rows")]
    Empty,
}

impl CalendarError {
    /// The line the problem is on (1-based); `None` for a file without rows.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Fields { line, .. }
            | Self::Date { line, .. }
            | Self::Kind { line, .. }
            | Self::Name { line }
            | Self::Duplicate { line, .. }
            | Self::WorkdayOnWeekday { line, .. }
            | Self::PartialYear { line, .. } => Some(*line),
            Self::Empty => None,
        }
    }

    /// Stable machine-readable code for API problem details.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Fields { .. } => "fields",
            Self::Date { .. } => "date",
            Self::Kind { .. } => "kind",
            Self::Name { .. } => "name",
            Self::Duplicate { .. } => "duplicate_date",
            Self::WorkdayOnWeekday { .. } => "workday_on_weekday",
            Self::PartialYear { .. } => "partial_year",
            Self::Empty => "empty",
        }
    }

    /// The same message in Chinese.
    pub fn zh(&self) -> String {
        match self {
            Self::Fields { line, found } => {
                format!("第{line}行：应为以制表符分隔的3列（日期、类型、名称），实际为{found}列")
            }
            Self::Date { line, text } => {
                format!("第{line}行：“{text}”不是YYYY-MM-DD格式的有效日期")
            }
            Self::Kind { line, text } => {
                format!("第{line}行：类型应为holiday（放假）或workday（调休上班），实际为“{text}”")
            }
            Self::Name { line } => format!("第{line}行：名称为空"),
            Self::Duplicate { line, date, first } => {
                format!("第{line}行：日期{date}重复（首次出现在第{first}行）")
            }
            Self::WorkdayOnWeekday {
                line,
                date,
                weekday,
            } => format!(
                "第{line}行：调休上班日{date}是{}，调休上班日应为周六或周日",
                weekday_zh(*weekday)
            ),
            Self::PartialYear {
                line,
                year,
                missing,
            } => format!(
                "第{line}行：{year}年的安排不完整，缺少{missing}的放假记录；请提供该年的全部安排（相邻年份的记录须连同该年全部安排一并提供）"
            ),
            Self::Empty => "文件中没有日期记录".to_owned(),
        }
    }

    /// As a field error for the given input field (e.g. the uploaded file).
    pub fn at(&self, field: impl Into<String>) -> crate::FieldError {
        crate::FieldError::new(field, self.code(), self.to_string(), self.zh())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn builtin() -> WorkCalendar {
        // Not WorkCalendar::builtin(): that falls back to an empty calendar,
        // and these tests must fail loudly if the shipped file stops parsing.
        WorkCalendar::parse(BUILTIN).unwrap()
    }

    fn due(on: Date) -> Deadline {
        Deadline {
            due_on: on,
            provisional: false,
        }
    }

    fn provisional(on: Date) -> Deadline {
        Deadline {
            due_on: on,
            provisional: true,
        }
    }

    /// A made-up but complete 2027 arrangement (not the real one, which is
    /// not published yet): 元旦 1–3 January, with the weekend after it; the
    /// fixed statutory days in May and October; one make-up Saturday.
    const HYPOTHETICAL_2027: &str = "# date\tkind\tname\n\
        2027-01-01\tholiday\t元旦\n\
        2027-01-02\tholiday\t元旦\n\
        2027-01-03\tholiday\t元旦\n\
        2027-05-01\tholiday\t劳动节\n\
        2027-10-01\tholiday\t国庆节\n\
        2027-10-02\tholiday\t国庆节\n\
        2027-10-03\tholiday\t国庆节\n\
        2027-10-09\tworkday\t国庆节\n";

    fn parse_err(text: &str) -> CalendarError {
        WorkCalendar::parse(text).unwrap_err()
    }

    #[test]
    fn builtin_parses_and_holds_2024_to_2026() {
        assert!(WorkCalendar::parse(BUILTIN).is_ok());
        let calendar = WorkCalendar::builtin();
        assert_eq!(calendar.years().collect::<Vec<_>>(), [2024, 2025, 2026]);
        assert_eq!(calendar, builtin());
    }

    /// The make-up workdays of each year, as listed in the research notes
    /// (standards.md §5): exactly these weekend days are working days.
    #[test]
    fn builtin_weekend_working_days_are_the_published_make_up_days() {
        let calendar = builtin();
        let expected: [(i16, &[(i8, i8)]); 3] = [
            (
                2024,
                &[
                    (2, 4),
                    (2, 18),
                    (4, 7),
                    (4, 28),
                    (5, 11),
                    (9, 14),
                    (9, 29),
                    (10, 12),
                ],
            ),
            (2025, &[(1, 26), (2, 8), (4, 27), (9, 28), (10, 11)]),
            (2026, &[(1, 4), (2, 14), (2, 28), (5, 9), (9, 20), (10, 10)]),
        ];
        for (year, make_up) in expected {
            let mut found = Vec::new();
            let mut day = date(year, 1, 1);
            while day.year() == year {
                if is_weekend(day) && calendar.is_working_day(day) == Some(true) {
                    found.push((day.month(), day.day()));
                }
                day = day.tomorrow().unwrap();
            }
            assert_eq!(found, make_up, "{year}");
        }
    }

    /// The worked example of the issue: cleared on Wednesday 30 September
    /// 2026; 1–7 October off, 8 and 9 October working, Saturday 10 October a
    /// make-up workday.
    #[test]
    fn national_day_2026_three_working_days_after_30_september_is_10_october() {
        let calendar = builtin();
        let cleared = date(2026, 9, 30);
        assert_eq!(
            calendar.add_working_days(cleared, 1),
            due(date(2026, 10, 8))
        );
        assert_eq!(
            calendar.add_working_days(cleared, 2),
            due(date(2026, 10, 9))
        );
        assert_eq!(
            calendar.add_working_days(cleared, 3),
            due(date(2026, 10, 10))
        );
        assert_eq!(
            calendar.add_working_days(cleared, 4),
            due(date(2026, 10, 12))
        );
    }

    #[test]
    fn a_deadline_crossing_into_an_unheld_year_counts_weekdays_and_is_provisional() {
        let calendar = builtin();
        // Within 2026: firm.
        assert_eq!(
            calendar.add_working_days(date(2026, 12, 28), 3),
            due(date(2026, 12, 31))
        );
        // Wed 30 and Thu 31 December, then Friday 1 January 2027 counted as a
        // plain weekday (it will surely be 元旦 once 2027 is published).
        assert_eq!(
            calendar.add_working_days(date(2026, 12, 29), 3),
            provisional(date(2027, 1, 1))
        );
        // Fri 1 January, then the weekend is skipped: Monday 4 January.
        assert_eq!(
            calendar.add_working_days(date(2026, 12, 31), 2),
            provisional(date(2027, 1, 4))
        );
        assert_eq!(calendar.is_working_day(date(2027, 1, 4)), None);
        assert_eq!(calendar.is_working_day(date(2023, 12, 29)), None);
    }

    #[test]
    fn spring_festival_2026_blocks() {
        let calendar = builtin();
        // Monday 16 to Friday 20 and Monday 23 February are weekdays off.
        for d in [16, 17, 18, 19, 20, 23] {
            assert_eq!(calendar.is_working_day(date(2026, 2, d)), Some(false));
        }
        // Saturday 14 February is a make-up workday; after it nothing counts
        // until Tuesday 24 February.
        assert_eq!(
            calendar.add_working_days(date(2026, 2, 13), 1),
            due(date(2026, 2, 14))
        );
        assert_eq!(
            calendar.add_working_days(date(2026, 2, 14), 1),
            due(date(2026, 2, 24))
        );
        assert_eq!(
            calendar.add_working_days(date(2026, 2, 14), 3),
            due(date(2026, 2, 26))
        );
    }

    #[test]
    fn a_make_up_sunday_counts() {
        let calendar = builtin();
        // Sunday 20 September 2026 is a make-up workday: the next working day
        // after Friday 18 September is that Sunday, not Monday 21.
        assert_eq!(calendar.is_working_day(date(2026, 9, 20)), Some(true));
        assert_eq!(
            calendar.add_working_days(date(2026, 9, 18), 1),
            due(date(2026, 9, 20))
        );
        // Across the 2025/2026 boundary (both held, so firm): 1–3 January
        // 2026 off, Sunday 4 January a make-up workday.
        assert_eq!(
            calendar.add_working_days(date(2025, 12, 31), 1),
            due(date(2026, 1, 4))
        );
        // An ordinary Sunday does not count.
        assert_eq!(calendar.is_working_day(date(2026, 9, 13)), Some(false));
    }

    #[test]
    fn zero_days_is_the_start_and_the_end_of_time_does_not_panic() {
        let calendar = builtin();
        assert_eq!(
            calendar.add_working_days(date(2026, 10, 3), 0),
            due(date(2026, 10, 3))
        );
        assert_eq!(
            calendar.add_working_days(Date::MAX, 1),
            provisional(Date::MAX)
        );
        assert_eq!(
            calendar.add_working_days(date(9999, 12, 30), 5),
            provisional(date(9999, 12, 31))
        );
    }

    #[test]
    fn parse_errors_name_the_line() {
        let head = "# date\tkind\tname\n2027-01-01\tholiday\t元旦\n";
        let cases: [(String, &str, usize); 7] = [
            (format!("{head}2027-02-30\tholiday\t春节\n"), "date", 3),
            (format!("{head}20270210\tholiday\t春节\n"), "date", 3),
            (format!("{head}2027-02-10\tHoliday\t春节\n"), "kind", 3),
            (format!("{head}2027-02-10 holiday 春节\n"), "fields", 3),
            (format!("{head}2027-02-10\tholiday\t \n"), "name", 3),
            (
                format!("{head}\n2027-01-01\tholiday\t元旦\n"),
                "duplicate_date",
                4,
            ),
            // Wednesday 10 February 2027.
            (
                format!("{head}2027-02-10\tworkday\t春节\n"),
                "workday_on_weekday",
                3,
            ),
        ];
        for (text, code, line) in cases {
            let error = parse_err(&text);
            assert_eq!((error.code(), error.line()), (code, Some(line)), "{text}");
            assert!(error.to_string().starts_with(&format!("line {line}: ")));
            assert!(error.zh().starts_with(&format!("第{line}行：")));
        }
        assert_eq!(
            parse_err(&format!("{head}\n2027-01-01\tworkday\t元旦\n")),
            CalendarError::Duplicate {
                line: 4,
                date: date(2027, 1, 1),
                first: 2
            }
        );
        let error = parse_err(&format!("{head}2027-02-10\tworkday\t春节\n"));
        assert_eq!(
            error.to_string(),
            "line 3: make-up workday 2027-02-10 is a Wednesday; make-up workdays fall on a Saturday or Sunday"
        );
        assert_eq!(
            error.zh(),
            "第3行：调休上班日2027-02-10是周三，调休上班日应为周六或周日"
        );
        let field = error.at("file");
        assert_eq!(
            (field.field.as_str(), field.code),
            ("file", "workday_on_weekday")
        );
    }

    #[test]
    fn a_partly_given_year_is_an_error_at_its_first_row() {
        // 2027 complete, plus one stray row of 2028 (line 10).
        let stray = format!("{HYPOTHETICAL_2027}2028-01-01\tholiday\t元旦\n");
        assert_eq!(
            parse_err(&stray),
            CalendarError::PartialYear {
                line: 10,
                year: 2028,
                missing: date(2028, 5, 1)
            }
        );
        // 2027 without 2 October.
        let gap = HYPOTHETICAL_2027.replace("2027-10-02\tholiday\t国庆节\n", "");
        let error = parse_err(&gap);
        assert_eq!(
            error,
            CalendarError::PartialYear {
                line: 2,
                year: 2027,
                missing: date(2027, 10, 2)
            }
        );
        assert!(
            error
                .to_string()
                .starts_with("line 2: year 2027 is only partly given")
        );
        assert!(error.zh().starts_with("第2行：2027年的安排不完整"));
        // Nothing but comments.
        let empty = parse_err("# date\tkind\tname\n\n");
        assert_eq!(
            (empty, WorkCalendar::parse("").unwrap_err()),
            (CalendarError::Empty, CalendarError::Empty)
        );
    }

    #[test]
    fn parse_accepts_crlf_and_a_byte_order_mark() {
        let windows = format!("\u{feff}{}", HYPOTHETICAL_2027.replace('\n', "\r\n"));
        assert_eq!(
            WorkCalendar::parse(&windows).unwrap(),
            WorkCalendar::parse(HYPOTHETICAL_2027).unwrap()
        );
    }

    #[test]
    fn missing_next_year_from_1_november() {
        let calendar = builtin();
        assert_eq!(calendar.missing_next_year(date(2026, 10, 31)), None);
        assert_eq!(calendar.missing_next_year(date(2026, 11, 1)), Some(2027));
        assert_eq!(calendar.missing_next_year(date(2026, 12, 31)), Some(2027));
        // 2026 is held, so November 2025 has nothing to warn about.
        assert_eq!(calendar.missing_next_year(date(2025, 11, 1)), None);
        let mut merged = calendar;
        merged.merge(WorkCalendar::parse(HYPOTHETICAL_2027).unwrap());
        assert_eq!(merged.missing_next_year(date(2026, 11, 1)), None);
        assert_eq!(merged.missing_next_year(date(9999, 12, 31)), None);
    }

    #[test]
    fn merging_2027_makes_a_provisional_deadline_firm() {
        let mut calendar = builtin();
        let before = calendar.add_working_days(date(2026, 12, 31), 1);
        assert_eq!(before, provisional(date(2027, 1, 1)));

        calendar.merge(WorkCalendar::parse(HYPOTHETICAL_2027).unwrap());
        assert_eq!(
            calendar.years().collect::<Vec<_>>(),
            [2024, 2025, 2026, 2027]
        );
        // 1–3 January off: Monday 4 January, now firm.
        assert_eq!(
            calendar.add_working_days(date(2026, 12, 31), 1),
            due(date(2027, 1, 4))
        );
        // The make-up Saturday of the imported file counts.
        assert_eq!(
            calendar.add_working_days(date(2027, 10, 8), 1),
            due(date(2027, 10, 9))
        );
    }

    #[test]
    fn merging_a_year_replaces_it_whole() {
        let mut calendar = builtin();
        // A corrected 2026 that (hypothetically) drops the make-up Saturday
        // 10 October and keeps only the fixed statutory days.
        let corrected = "2026-01-01\tholiday\t元旦\n\
            2026-05-01\tholiday\t劳动节\n\
            2026-10-01\tholiday\t国庆节\n\
            2026-10-02\tholiday\t国庆节\n\
            2026-10-03\tholiday\t国庆节\n";
        calendar.merge(WorkCalendar::parse(corrected).unwrap());
        assert_eq!(calendar.years().collect::<Vec<_>>(), [2024, 2025, 2026]);
        // Old rows of 2026 are gone, not unioned with the new ones.
        assert_eq!(calendar.is_working_day(date(2026, 10, 10)), Some(false));
        assert_eq!(calendar.is_working_day(date(2026, 10, 5)), Some(true));
        // Other years are untouched.
        assert_eq!(calendar.is_working_day(date(2025, 10, 8)), Some(false));
    }

    proptest! {
        /// Inside the held years: the due date is a working day, exactly `n`
        /// working days lie after the start up to it, and it is firm.
        #[test]
        fn deadline_is_the_nth_working_day(offset in 0i32..(3 * 365 - 40), n in 0u32..25) {
            let calendar = builtin();
            let start = date(2024, 1, 1).checked_add(jiff::Span::new().days(offset)).unwrap();
            let deadline = calendar.add_working_days(start, n);
            prop_assert!(!deadline.provisional);
            if n > 0 {
                prop_assert_eq!(calendar.is_working_day(deadline.due_on), Some(true));
            }
            let mut counted = 0;
            let mut day = start;
            while day < deadline.due_on {
                day = day.tomorrow().unwrap();
                if calendar.is_working_day(day) == Some(true) {
                    counted += 1;
                }
            }
            prop_assert_eq!(counted, n);
        }
    }
}
