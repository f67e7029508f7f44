//! Unit tests for `quantity`.

use super::*;

fn q(s: &str) -> Quantity {
    parse(s).unwrap()
}

#[test]
fn parses_decimal_suffixes() {
    assert_eq!(q("100m").millis(), 100);
    assert_eq!(q("2").millis(), 2000);
    assert_eq!(q("1k").value(), 1000);
    assert_eq!(q("128M").value(), 128_000_000);
    assert_eq!(q("1G").value(), 1_000_000_000);
    assert_eq!(q("2T").value(), 2_000_000_000_000);
    assert_eq!(q("1P").value(), 1_000_000_000_000_000);
    assert_eq!(q("1E").value(), 1_000_000_000_000_000_000);
    assert_eq!(q("250u").nanos(), 250_000);
    assert_eq!(q("5n").nanos(), 5);
}

#[test]
fn parses_binary_suffixes() {
    assert_eq!(q("1Ki").value(), 1024);
    assert_eq!(q("128Mi").value(), 134_217_728);
    assert_eq!(q("1.5Gi").value(), 1_610_612_736);
    assert_eq!(q("2Ti").value(), 2 * (1i64 << 40));
    assert_eq!(q("1Pi").value(), 1i64 << 50);
    assert_eq!(q("1Ei").value(), 1i64 << 60);
}

#[test]
fn parses_decimals_signs_and_exponents() {
    assert_eq!(q("0.5").millis(), 500);
    assert_eq!(q(".5").millis(), 500);
    assert_eq!(q("1.").millis(), 1000);
    assert_eq!(q("+3").value(), 3);
    assert_eq!(q("-250m").millis(), -250);
    assert_eq!(q("1e3").value(), 1000);
    assert_eq!(q("1E3").value(), 1000);
    assert_eq!(q("12e-3").millis(), 12);
    assert_eq!(q("1e+2").value(), 100);
    assert_eq!(q("0").nanos(), 0);
    assert_eq!(q("000").nanos(), 0);
}

#[test]
fn rounds_below_nano_up() {
    assert_eq!(q("0.0000000001").nanos(), 1);
    assert_eq!(q("1.0000000001").nanos(), 1_000_000_001);
    assert_eq!(q("0.1n").nanos(), 1);
}

#[test]
fn value_and_millis_round_up() {
    assert_eq!(q("500m").value(), 1);
    assert_eq!(q("1001m").value(), 2);
    assert_eq!(q("1n").millis(), 1);
    assert_eq!(q("-500m").value(), -1);
}

#[test]
fn rejects_malformed_quantities() {
    assert_eq!(parse(""), Err(QuantityError::Empty));
    assert!(matches!(parse("abc"), Err(QuantityError::Format(_))));
    assert!(matches!(parse("1 Gi"), Err(QuantityError::Format(_))));
    assert!(matches!(parse("5Mb"), Err(QuantityError::Format(_))));
    assert!(matches!(parse("1Gb"), Err(QuantityError::Format(_))));
    assert!(matches!(parse("1mi"), Err(QuantityError::Suffix(_))));
    assert!(matches!(parse("1KI"), Err(QuantityError::Format(_))));
    assert!(matches!(parse("1e"), Err(QuantityError::Suffix(_))));
    assert!(matches!(parse("1e400"), Err(QuantityError::OutOfRange(_))));
}

#[test]
fn canonical_strings_match_kubectl() {
    let cases = [
        ("100m", "100m"),
        ("1500m", "1500m"),
        ("1.5", "1500m"),
        ("0.5", "500m"),
        ("2000m", "2"),
        ("2", "2"),
        ("1000", "1k"),
        ("1500", "1500"),
        ("128Mi", "128Mi"),
        ("1024Mi", "1Gi"),
        ("1.5Gi", "1536Mi"),
        ("0.5Gi", "512Mi"),
        ("1Ki", "1Ki"),
        ("100Ki", "100Ki"),
        ("512", "512"),
        ("1e3", "1e3"),
        ("1000e0", "1e3"),
        ("1.5e3", "1500"),
        ("0", "0"),
        ("0Gi", "0"),
        ("250u", "250u"),
        ("10n", "10n"),
        ("1200M", "1200M"),
        ("-1Gi", "-1Gi"),
        ("0.1Ki", "102400m"),
        ("1E", "1E"),
    ];
    for (input, want) in cases {
        assert_eq!(q(input).to_string(), want, "canonical form of {input}");
    }
}

#[test]
fn binary_below_one_is_decimal() {
    // ParseQuantity switches 0 < x < 1 binary values to DecimalSI.
    let half = q("0.5Ki");
    assert_eq!(half.format(), Format::BinarySI);
    assert_eq!(half.to_string(), "512");
    let tiny = parse("0.0001Ki").unwrap();
    assert_eq!(tiny.format(), Format::DecimalSI);
    assert_eq!(tiny.to_string(), "102400u");
}

#[test]
fn sums_keep_the_first_operand_format() {
    // kubectl describe node: 100m + 1750m = 1850m.
    let mut cpu = q("100m");
    cpu.add(&q("1750m"));
    assert_eq!(cpu.to_string(), "1850m");
    // 1 + 1 CPU: 2.
    let mut cpu = q("1");
    cpu.add(&q("1000m"));
    assert_eq!(cpu.to_string(), "2");
    // 70Mi + 1Gi + 36Mi = 1130Mi.
    let mut mem = q("70Mi");
    mem.add(&q("1Gi"));
    mem.add(&q("36Mi"));
    assert_eq!(mem.to_string(), "1130Mi");
    // Binary first, decimal added: still binary when exact.
    let mut mem = q("12Gi");
    mem.add(&q("2147483648"));
    assert_eq!(mem.to_string(), "14Gi");
    // Decimal first: the sum prints in decimal.
    let mut mem = q("100M");
    mem.add(&q("28Mi"));
    assert_eq!(mem.to_string(), "129360128");
    // A zero receiver takes the added quantity's format (Go's Add).
    let mut mem = q("0");
    mem.add(&q("64Mi"));
    assert_eq!(mem.to_string(), "64Mi");
}

#[test]
fn equality_ignores_format() {
    assert_eq!(q("1Gi"), q("1073741824"));
    assert_eq!(q("1"), q("1000m"));
    assert!(q("1Gi") > q("1G"));
}

#[test]
fn serde_round_trips_canonical_string() {
    let v = serde_json::to_value(q("1.5Gi")).unwrap();
    assert_eq!(v, serde_json::json!("1536Mi"));
    let back: Quantity = serde_json::from_value(v).unwrap();
    assert_eq!(back, q("1536Mi"));
    assert_eq!(back.format(), Format::BinarySI);
}

#[test]
fn percent_truncates_like_go() {
    assert_eq!(percent(1850, 4000), 46);
    assert_eq!(percent(1_184_890_880, 8_138_825_728), 14);
    assert_eq!(percent(1, 3), 33);
    assert_eq!(percent(5, 0), 0);
    assert_eq!(percent(4000, 4000), 100);
    assert_eq!(percent(9000, 4000), 225);
    assert_eq!(resource_percent("cpu", &q("1850m"), &q("4")), 46);
    assert_eq!(
        resource_percent("memory", &q("1130Mi"), &q("7948084Ki")),
        14
    );
}

#[test]
fn from_k8s_trims_whitespace() {
    let k = k8s_openapi::apimachinery::pkg::api::resource::Quantity(" 64Mi ".to_owned());
    assert_eq!(Quantity::from_k8s(&k).unwrap().to_string(), "64Mi");
}

/// Input and output of real kubectl v1.32 (`kubectl set resources --local
/// --requests=example.com/rN=<input> -o json`), i.e. Go's ParseQuantity
/// followed by MarshalJSON, including the inputs Go prints verbatim.
const KUBECTL_ROUND_TRIPS: &[(&str, &str)] = &[
    ("100m", "100m"),
    ("1500m", "1500m"),
    ("1.5", "1500m"),
    ("0.5", "500m"),
    ("2000m", "2"),
    ("2", "2"),
    ("1000", "1k"),
    ("1500", "1500"),
    ("128Mi", "128Mi"),
    ("1024Mi", "1Gi"),
    ("1.5Gi", "1536Mi"),
    ("0.5Gi", "512Mi"),
    ("1Ki", "1Ki"),
    ("100Ki", "100Ki"),
    ("512", "512"),
    ("1e3", "1e3"),
    ("1000e0", "1e3"),
    ("1.5e3", "1500"),
    ("0", "0"),
    ("0Gi", "0"),
    ("250u", "250u"),
    ("10n", "10n"),
    ("1200M", "1200M"),
    ("0.1Ki", "102400m"),
    ("1E", "1E"),
    ("12e-3", "12e-3"),
    ("1e-3", "1e-3"),
    ("0.0000000001", "1n"),
    ("1.0000000001", "1000000001n"),
    ("7948084Ki", "7948084Ki"),
    ("8138838016", "8138838016"),
    ("1.25", "1250m"),
    ("3.999", "3.999"),
    ("0.001m", "1u"),
    ("5e-10", "1e-9"),
    ("1.5Ei", "1536Pi"),
    ("2Ti", "2Ti"),
    ("1Pi", "1Pi"),
    ("12345678901234m", "12345678901234m"),
    ("1e7", "10e6"),
    ("1.1Ki", "1126400m"),
    ("1025", "1025"),
    ("1024", "1024"),
    ("2048", "2048"),
    ("1536", "1536"),
    ("100G", "100G"),
    ("1.5G", "1500M"),
    ("0.1", "100m"),
    ("1Mi", "1Mi"),
    ("1048576", "1048576"),
    ("10Gi", "10Gi"),
    ("16Gi", "16Gi"),
    ("0.25Mi", "256Ki"),
    ("123456789012", "123456789012"),
    ("+3", "+3"),
    ("0100m", "0100m"),
    ("1.500k", "1.500k"),
    ("+1Gi", "+1Gi"),
    ("0100Mi", "0100Mi"),
    ("1.010", "1.010"),
    ("-3.999", "-3.999"),
    ("007", "007"),
    ("1.000", "1"),
    ("10.5m", "10500u"),
    ("123456789012345678", "123456789012345678"),
    ("1234567890123456789", "1234567890123456789"),
    ("99999999999999999999", "99999999999999999999"),
    ("0.5Ki", "512"),
    ("1023Ki", "1023Ki"),
    ("1.5Mi", "1536Ki"),
    ("1e-10", "1e-9"),
    ("-1", "-1"),
    ("-1Gi", "-1Gi"),
    ("-0.5", "-500m"),
    ("1.5k", "1500"),
    ("2.0", "2"),
    ("100.000", "100"),
    ("4e3", "4e3"),
    ("4000e-3", "4"),
    ("1E18", "1E18"),
    ("1E19", "10e18"),
    ("9Ei", "9223372036854775807"),
    ("8Ei", "9223372036854775807"),
    ("7Ei", "7Ei"),
];

#[test]
fn prints_like_kubectl_round_trip() {
    for (input, want) in KUBECTL_ROUND_TRIPS {
        assert_eq!(
            q(input).to_string(),
            *want,
            "kubectl prints {input} as {want}"
        );
    }
}

#[test]
fn arithmetic_drops_the_verbatim_form() {
    let mut x = q("3.999");
    assert_eq!(x.to_string(), "3.999");
    x.add(&Quantity::ZERO);
    assert_eq!(x.to_string(), "3999m");
    let mut y = q("+1Gi");
    y.sub(&q("0"));
    assert_eq!(y.to_string(), "1Gi");
    // Verbatim forms survive a serde round trip.
    let back: Quantity = serde_json::from_value(serde_json::to_value(q("007")).unwrap()).unwrap();
    assert_eq!(back.to_string(), "007");
    assert_eq!(back.value(), 7);
}

#[test]
fn binary_values_are_capped_at_int64() {
    assert_eq!(q("9Ei").value(), i64::MAX);
    assert_eq!(q("16Ei").to_string(), "9223372036854775807");
    // Decimal values are not capped.
    assert_eq!(q("10E").nanos(), 10_000_000_000_000_000_000 * 1_000_000_000);
}
