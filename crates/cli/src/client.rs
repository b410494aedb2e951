//! Client subcommands: talk to a running payment service over gRPC.

use clap::Args;

/// Prints a line to stdout; a closed pipe (`posgate list | head`) ends the program quietly
/// instead of panicking.
#[macro_export]
macro_rules! out {
    () => { out!("") };
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}
use posgate_grpc::CallerToken;
use posgate_proto::v1::payment_service_client::PaymentServiceClient;
use posgate_proto::v1::{self as pb, get_bill_response};
use serde_json::{Value, json};
use tokio_stream::StreamExt;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

#[derive(Args)]
pub struct Conn {
    /// Payment service address.
    #[arg(
        long,
        env = "POSGATE_SERVER",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    server: String,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Bearer token for the payment service (the `cli` token of `[auth]`; the default is the
    /// demo configuration's).
    #[arg(
        long,
        env = "POSGATE_TOKEN",
        default_value = "demo-cli-token",
        hide_default_value = true,
        global = true
    )]
    token: String,
}

#[derive(Args)]
pub struct PayArgs {
    #[arg(long)]
    restaurant: String,
    #[arg(long)]
    bill: String,
    /// Amount with a dot, e.g. 978.00.
    #[arg(long)]
    amount: String,
    /// Idempotency key: the same key never posts twice.
    #[arg(long)]
    key: String,
    #[arg(long, default_value = "")]
    tips: String,
    /// Do not close the bill after paying.
    #[arg(long)]
    no_close: bool,
    /// Fiscal data as key=value (repeatable).
    #[arg(long = "fiscal", value_parser = parse_kv)]
    fiscal: Vec<(String, String)>,
    /// Bonus points redeemed as a discount, where the POS takes them.
    #[arg(long, default_value = "")]
    points: String,
    /// POS-specific option as key=value (repeatable), e.g. delete_prechecks=1 for Tillypad.
    #[arg(long = "option", value_parser = parse_kv)]
    options: Vec<(String, String)>,
    #[command(flatten)]
    conn: Conn,
}

#[derive(Args)]
pub struct GetArgs {
    payment_id: String,
    #[command(flatten)]
    conn: Conn,
}

#[derive(Args)]
pub struct ListArgs {
    /// Only payments in this state (repeatable): accepted, posting, paid, closing, closed,
    /// retrying, needs_attention, outcome_unknown.
    #[arg(long)]
    state: Vec<String>,
    #[arg(long, default_value = "")]
    restaurant: String,
    #[arg(long, default_value = "")]
    bill: String,
    #[arg(long, default_value_t = 50)]
    limit: u32,
    #[command(flatten)]
    conn: Conn,
}

#[derive(Args)]
pub struct BillArgs {
    #[arg(long)]
    restaurant: String,
    #[arg(long)]
    bill: String,
    #[command(flatten)]
    conn: Conn,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected key=value, got {s:?}"))
}

type Client = PaymentServiceClient<InterceptedService<Channel, CallerToken>>;

async fn connect(conn: &Conn) -> anyhow::Result<Client> {
    let channel = Channel::from_shared(conn.server.clone())?
        .connect()
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach the payment service at {}: {e}", conn.server))?;
    Ok(PaymentServiceClient::with_interceptor(
        channel,
        CallerToken::bearer(&conn.token),
    ))
}

pub fn status_err(s: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{:?}: {}", s.code(), s.message())
}

fn state_name(v: i32) -> String {
    pb::PaymentState::try_from(v)
        .map(|s| s.as_str_name().to_ascii_lowercase())
        .unwrap_or_else(|_| v.to_string())
}

fn substate_name(v: i32) -> String {
    match pb::Substate::try_from(v) {
        Ok(pb::Substate::Unspecified) | Err(_) => String::new(),
        Ok(s) => s.as_str_name().to_string(),
    }
}

pub fn payment_json(p: &pb::Payment) -> Value {
    json!({
        "payment_id": p.payment_id,
        "idempotency_key": p.idempotency_key,
        "restaurant_id": p.restaurant_id,
        "bill_id": p.bill_id,
        "amount": p.amount,
        "tips": p.tips,
        "close": p.close,
        "state": state_name(p.state),
        "final": p.r#final,
        "substate": substate_name(p.substate),
        "pos_code": p.pos_code,
        "pos_text": p.pos_text,
        "recommendation": p.recommendation,
        "attempts": p.attempts,
        "next_attempt_at": p.next_attempt_at,
        "pos_reference": p.pos_reference,
        "fiscal_data": p.fiscal_data,
        "points": p.points,
        "pos_options": p.pos_options,
        "pos_details": p.pos_details,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "version": p.version,
    })
}

fn print_payment(p: &pb::Payment, as_json: bool) {
    if as_json {
        out!("{}", payment_json(p));
        return;
    }
    out!("payment  {}", p.payment_id);
    out!("  key        {}", p.idempotency_key);
    out!("  bill       {} / {}", p.restaurant_id, p.bill_id);
    out!(
        "  amount     {}{}",
        p.amount,
        if p.tips.trim_start_matches(['0', '.']).is_empty() {
            String::new()
        } else {
            format!(" (+ tips {})", p.tips)
        }
    );
    out!(
        "  state      {}{}",
        state_name(p.state),
        if p.r#final { " (final)" } else { "" }
    );
    let sub = substate_name(p.substate);
    if !sub.is_empty() {
        out!("  substate   {sub}");
    }
    if !p.pos_text.is_empty() || !p.pos_code.is_empty() {
        out!("  POS said   [{}] {}", p.pos_code, p.pos_text);
    }
    if !p.recommendation.is_empty() {
        out!("  do         {}", p.recommendation);
    }
    if !p.next_attempt_at.is_empty() {
        out!("  next try   {}", p.next_attempt_at);
    }
    for (k, v) in &p.pos_details {
        out!("  POS detail {k} = {v}");
    }
    out!("  attempts   {}", p.attempts);
    out!("  updated    {}", p.updated_at);
}

pub async fn pay(a: PayArgs) -> anyhow::Result<()> {
    let mut c = connect(&a.conn).await?;
    let p = c
        .pay_bill(pb::PayBillRequest {
            idempotency_key: a.key,
            restaurant_id: a.restaurant,
            bill_id: a.bill,
            amount: a.amount,
            tips: a.tips,
            tenders: vec![],
            fiscal_data: a.fiscal.into_iter().collect(),
            close: !a.no_close,
            points: a.points,
            pos_options: a.options.into_iter().collect(),
        })
        .await
        .map_err(status_err)?
        .into_inner();
    print_payment(&p, a.conn.json);
    Ok(())
}

pub async fn get(a: GetArgs) -> anyhow::Result<()> {
    let mut c = connect(&a.conn).await?;
    let p = c
        .get_payment(pb::GetPaymentRequest {
            payment_id: a.payment_id,
        })
        .await
        .map_err(status_err)?
        .into_inner();
    print_payment(&p, a.conn.json);
    Ok(())
}

pub async fn watch(a: GetArgs) -> anyhow::Result<()> {
    let mut c = connect(&a.conn).await?;
    let mut stream = c
        .watch_payment(pb::GetPaymentRequest {
            payment_id: a.payment_id,
        })
        .await
        .map_err(status_err)?
        .into_inner();
    while let Some(p) = stream.next().await {
        let p = p.map_err(status_err)?;
        if a.conn.json {
            out!("{}", payment_json(&p));
        } else {
            let sub = substate_name(p.substate);
            out!(
                "{}  {}{}{}",
                p.updated_at,
                state_name(p.state),
                if sub.is_empty() {
                    String::new()
                } else {
                    format!(" {sub}")
                },
                if p.pos_text.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", p.pos_text)
                }
            );
        }
    }
    Ok(())
}

pub async fn list(a: ListArgs) -> anyhow::Result<()> {
    let mut states = Vec::new();
    for s in &a.state {
        let name = s.to_ascii_uppercase().replace('-', "_");
        let st = pb::PaymentState::from_str_name(&name)
            .ok_or_else(|| anyhow::anyhow!("unknown state {s:?}"))?;
        states.push(st as i32);
    }
    let mut c = connect(&a.conn).await?;
    let r = c
        .list_payments(pb::ListPaymentsRequest {
            restaurant_id: a.restaurant,
            bill_id: a.bill,
            states,
            page_size: a.limit,
            page_token: String::new(),
        })
        .await
        .map_err(status_err)?
        .into_inner();
    if a.conn.json {
        let v: Vec<Value> = r.payments.iter().map(payment_json).collect();
        out!(
            "{}",
            json!({"payments": v, "next_page_token": r.next_page_token})
        );
    } else {
        for p in &r.payments {
            out!(
                "{}  {:<16} {:>10}  {:<15} {}  {}",
                p.payment_id,
                p.idempotency_key,
                p.amount,
                state_name(p.state),
                substate_name(p.substate),
                p.bill_id
            );
        }
        if !r.next_page_token.is_empty() {
            out!("(more: page token {})", r.next_page_token);
        }
    }
    Ok(())
}

pub async fn bill(a: BillArgs) -> anyhow::Result<()> {
    let mut c = connect(&a.conn).await?;
    let r = c
        .get_bill(pb::GetBillRequest {
            restaurant_id: a.restaurant,
            bill_id: a.bill,
        })
        .await
        .map_err(status_err)?
        .into_inner();
    match r.result {
        Some(get_bill_response::Result::Bill(b)) => {
            let guests: Vec<Value> = b
                .guests
                .iter()
                .map(|g| {
                    json!({"name": g.name, "dishes": g.dishes.iter().map(|d| json!({"id": d.id, "name": d.name, "price": d.price, "quantity": d.quantity, "amount": d.amount})).collect::<Vec<_>>()})
                })
                .collect();
            let v = json!({
                "bill_id": b.bill_id, "total": b.total, "amount_due": b.amount_due, "paid": b.paid,
                "status": pb::BillStatus::try_from(b.status).map(|s| s.as_str_name()).unwrap_or("?"),
                "pos_status": b.pos_status, "bill_printed": b.bill_printed, "table": b.table,
                "waiter": b.waiter, "waiter_id": b.waiter_id, "order_number": b.order_number, "guests": guests,
            });
            out!(
                "{}",
                if a.conn.json {
                    v.to_string()
                } else {
                    serde_json::to_string_pretty(&v)?
                }
            );
        }
        Some(get_bill_response::Result::Failure(f)) => {
            anyhow::bail!(
                "POS: {} [{}] {}",
                substate_name(f.substate),
                f.pos_code,
                f.pos_text
            )
        }
        None => anyhow::bail!("empty answer"),
    }
    Ok(())
}

pub async fn close(a: BillArgs) -> anyhow::Result<()> {
    let mut c = connect(&a.conn).await?;
    let r = c
        .close_bill(pb::CloseBillRequest {
            restaurant_id: a.restaurant,
            bill_id: a.bill,
        })
        .await
        .map_err(status_err)?
        .into_inner();
    if r.closed {
        out!("closed");
        Ok(())
    } else {
        let f = r.failure.unwrap_or_default();
        anyhow::bail!(
            "not closed: {} [{}] {}\n{}",
            substate_name(f.substate),
            f.pos_code,
            f.pos_text,
            r.recommendation
        )
    }
}
