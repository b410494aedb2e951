//! The /pay-guest wire form through the public API: the request body's vendor names and
//! exact numbers, and the lenient reading of answers.

use posgate_core::Money;
use posgate_tillypad::wire::*;
use rust_decimal::Decimal;
use serde_json::Value;

fn m(s: &str) -> Money {
    Money::parse(s, 2).unwrap()
}

#[test]
fn body_has_the_vendor_names_and_exact_numbers() {
    let p = PayGuest {
        gest_id: "{8f0e6b52-3c1d-4a7e-9b20-000000000978}".into(),
        pay_sum: m("878"),
        pay_type_id: Some("3E2A6F10-8C4B-4D7A-9B15-2F6C0D1A7E01".into()),
        points: Some((None, m("100.5"))),
        points_field: PointsField::DiscountSum,
    };
    let b = p.body();
    let want: Value = serde_json::from_str(
        r#"{"DiscountSum":{"sum":100.50},"Payment":{"gest_ID":"8f0e6b52-3c1d-4a7e-9b20-000000000978","payType_ID":"3E2A6F10-8C4B-4D7A-9B15-2F6C0D1A7E01","paySum":878.00}}"#,
    )
    .unwrap();
    assert_eq!(b, want);
    // Exact decimal text on the wire.
    let text = b.to_string();
    assert!(text.contains(r#""paySum":878.00"#), "{text}");
    assert!(text.contains(r#""sum":100.50"#), "{text}");
    let p = PayGuest {
        pay_type_id: None,
        points: Some((Some("60D367B5-15D2-D24D-8A74-A28F40C8CB9D".into()), m("1"))),
        points_field: PointsField::GuestDiscountPoints,
        ..p
    };
    let b = p.body();
    assert!(b["Payment"].get("payType_ID").is_none());
    assert_eq!(
        b["GuestDiscountPoints"]["type_ID"],
        "60D367B5-15D2-D24D-8A74-A28F40C8CB9D"
    );
    assert!(b.get("DiscountSum").is_none());
}

#[test]
fn guids() {
    assert!(is_guid("8F0E6B52-3C1D-4A7E-9B20-000000000978"));
    assert!(is_guid("{8f0e6b52-3c1d-4a7e-9b20-000000000978}"));
    assert!(!is_guid("8F0E6B52-3C1D-4A7E-9B20-00000000097"));
    assert!(!is_guid("8F0E6B52-3C1D-4A7E-9B20-00000000097Z"));
    assert!(!is_guid("42"));
}

#[test]
fn success_shapes() {
    let a = parse_answer(
        br#"{"DiscountSums":[{"type_ID":"60D367B5-15D2-D24D-8A74-A28F40C8CB9D","sum":20}],
             "AppliedDiscountSums":[{"type_ID":"0412C97B-AF11-2447-88D9-B40FA0EB996D","sum":20.00}]}"#,
    );
    let Answer::Success {
        discount_sums: Some(d),
        applied_discount_sums: Some(ap),
    } = a
    else {
        panic!("{a:?}")
    };
    assert_eq!(sum_of_lines(&d), Ok(Decimal::new(20, 0)));
    assert_eq!(ap[0]["type_ID"], "0412C97B-AF11-2447-88D9-B40FA0EB996D");
    assert!(ap.to_string().contains(r#""sum":20.00"#), "{ap}");
    // Singular, camelCase, a single object, string sums; AppliedDiscountSum absent.
    let a = parse_answer(br#"{"discountSum": {"typeId": "x", "Sum": "15.50"}}"#);
    let Answer::Success {
        discount_sums: Some(d),
        applied_discount_sums: None,
    } = a
    else {
        panic!("{a:?}")
    };
    assert_eq!(sum_of_lines(&d), Ok(Decimal::new(1550, 2)));
    // With a BOM.
    let mut b = vec![0xEF, 0xBB, 0xBF];
    b.extend_from_slice(br#"{"DiscountSums": [], "AppliedDiscountSums": []}"#);
    assert!(matches!(parse_answer(&b), Answer::Success { .. }));
}

#[test]
fn error_shapes() {
    let e = |b: &[u8]| match parse_answer(b) {
        Answer::Error { text, .. } => text,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        e("\"Счет уже передан в оплату\"".as_bytes()),
        "Счет уже передан в оплату"
    );
    assert_eq!(
        e(br#"{"Message": "An error has occurred."}"#),
        "An error has occurred."
    );
    assert_eq!(e(br#"{"error": {"message": "bad"}}"#), "bad");
    assert_eq!(
        e("Счет уже оплачен".as_bytes()),
        "Счет уже оплачен",
        "plain text"
    );
    // windows-1251: «Счет уже оплачен».
    let cp = [
        0xD1, 0xF7, 0xE5, 0xF2, 0x20, 0xF3, 0xE6, 0xE5, 0x20, 0xEE, 0xEF, 0xEB, 0xE0, 0xF7, 0xE5,
        0xED,
    ];
    let mut quoted = vec![b'"'];
    quoted.extend_from_slice(&cp);
    quoted.push(b'"');
    assert_eq!(e(&quoted), "Счет уже оплачен");
    assert_eq!(decode(&[0xA8, 0xB8, 0xB9]), "Ёё№");
}

#[test]
fn unreadable_shapes() {
    for b in [
        &b""[..],
        b"   ",
        b"<html><body>502 Bad Gateway</body></html>",
        b"null",
        b"[1]",
        b"{}",
        b"{\"result\": \"ok\"}",
    ] {
        assert!(
            matches!(parse_answer(b), Answer::Unreadable { .. }),
            "{:?}",
            String::from_utf8_lossy(b)
        );
    }
}

#[test]
fn sums_never_through_floats() {
    let v: Value = serde_json::from_str(r#"[{"sum": 0.1}, {"sum": "0.2"}]"#).unwrap();
    assert_eq!(sum_of_lines(&v), Ok(Decimal::new(3, 1)));
    let v: Value = serde_json::from_str(r#"[{"sum": "1,5"}]"#).unwrap();
    assert!(sum_of_lines(&v).is_err());
}
