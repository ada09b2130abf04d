//! Line breaking for mixed Chinese/ASCII text.
//!
//! Greedy fill. Chinese may break between any two characters; runs of ASCII
//! letters and digits stay together; closing punctuation never starts a line
//! and opening punctuation never ends one (simple kinsoku, 禁则). A token wider
//! than the whole line is broken between characters. `'\n'` always breaks;
//! spaces at a wrap point are dropped. No other character is ever dropped.

/// May not begin a line.
const NO_START: &str = "，。、；：？！）》」』】〕〉〗”’…—·％,.;:?!)]}%";
/// May not end a line.
const NO_END: &str = "（《「『【〔〈〖“‘([{";

/// Wraps `text` to lines no wider than `max_w`, measuring each character
/// with `adv` (same unit as `max_w`). An empty paragraph gives an empty line.
pub(crate) fn wrap(text: &str, max_w: f32, adv: impl Fn(char) -> f32) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        wrap_paragraph(para, max_w, &adv, &mut lines);
    }
    lines
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// Unbreakable pieces of a paragraph.
fn tokens(para: &str) -> Vec<String> {
    let mut toks: Vec<String> = Vec::new();
    let mut glue_next = false;
    for c in para.chars() {
        let prev = toks.last().and_then(|t| t.chars().last());
        let glue = glue_next
            || (NO_START.contains(c) && prev.is_some_and(|p| p != ' '))
            || (is_word(c) && prev.is_some_and(is_word));
        match toks.last_mut() {
            Some(t) if glue => t.push(c),
            _ => toks.push(c.to_string()),
        }
        glue_next = NO_END.contains(c);
    }
    toks
}

fn wrap_paragraph(para: &str, max_w: f32, adv: &impl Fn(char) -> f32, lines: &mut Vec<String>) {
    let width = |s: &str| s.chars().map(adv).sum::<f32>();
    let tolerance = max_w + 0.001;
    let mut cur = String::new();
    let mut w = 0.0;
    let mut wrapped = false;
    let mut pieces = Vec::new();
    for t in tokens(para) {
        if t.chars().count() > 1 && width(&t) > tolerance {
            pieces.extend(t.chars().map(String::from));
        } else {
            pieces.push(t);
        }
    }
    for piece in pieces {
        let pw = width(&piece);
        if w + pw > tolerance && !cur.is_empty() {
            lines.push(cur.trim_end_matches(' ').to_owned());
            cur.clear();
            w = 0.0;
            wrapped = true;
        }
        if wrapped && cur.is_empty() && piece == " " {
            continue;
        }
        cur.push_str(&piece);
        w += pw;
    }
    if !cur.is_empty() || !wrapped {
        lines.push(if wrapped {
            cur.trim_end_matches(' ').to_owned()
        } else {
            cur
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CJK and full-width punctuation 1.0, everything else 0.5.
    fn adv(c: char) -> f32 {
        if c.is_ascii() { 0.5 } else { 1.0 }
    }

    #[test]
    fn cjk_breaks_anywhere() {
        assert_eq!(wrap("一二三四五六七", 3.0, adv), ["一二三", "四五六", "七"]);
    }

    #[test]
    fn closing_punctuation_never_starts_a_line() {
        let lines = wrap("一二三，四五六。七八）", 3.0, adv);
        assert!(
            lines.iter().all(|l| !l.starts_with(['，', '。', '）'])),
            "{lines:?}"
        );
        assert_eq!(lines.concat(), "一二三，四五六。七八）");
    }

    #[test]
    fn opening_punctuation_never_ends_a_line() {
        let lines = wrap("一二（三四）", 3.0, adv);
        assert!(lines.iter().all(|l| !l.ends_with('（')), "{lines:?}");
    }

    #[test]
    fn ascii_words_stay_whole_and_break_spaces_go() {
        assert_eq!(wrap("abc defg hi", 2.5, adv), ["abc", "defg", "hi"]);
        assert_eq!(wrap("使用SM2签名", 3.0, adv), ["使用", "SM2签", "名"]);
    }

    #[test]
    fn overlong_token_is_split_between_characters() {
        let id = "1.2.156.3005.2.11100000MB0143028R001";
        let lines = wrap(id, 4.0, adv);
        assert!(lines.iter().all(|l| l.chars().map(adv).sum::<f32>() <= 4.0));
        assert_eq!(lines.concat(), id);
    }

    #[test]
    fn newlines_are_honoured() {
        assert_eq!(wrap("一\n\n二三四", 2.0, adv), ["一", "", "二三", "四"]);
        assert_eq!(wrap("", 2.0, adv), [""]);
        assert_eq!(wrap("  缩进", 9.0, adv), ["  缩进"]);
    }

    #[test]
    fn zero_width_line_still_progresses() {
        assert_eq!(wrap("一二", 0.0, adv), ["一", "二"]);
    }
}
