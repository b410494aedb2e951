//! The gRPC codec of posgate's services: prost, with per-call buffers sized to posgate's
//! messages.
//!
//! tonic allocates each call's encode and decode buffers up front (8 KiB each by default) and
//! grows them in steps of that size. posgate's messages are a few hundred bytes, and a payment
//! service holding thousands of calls to slow POSes (a dinner peak: each call open for
//! seconds) kept those buffers for every one of them. Larger messages (a bill with many
//! dishes) still fit: the buffer grows in [`BUFFER`] steps.
//!
//! Every generated client and server uses it (`codec_path` in `build.rs`).

use std::marker::PhantomData;

use prost::Message;
use tonic::codec::{BufferSettings, Codec};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// A call's first buffer, and the step it grows by.
pub const BUFFER: usize = 1024;
/// tonic's own default: how much a stream batches before yielding (streams only).
const YIELD_THRESHOLD: usize = 32 * 1024;

fn settings() -> BufferSettings {
    BufferSettings::new(BUFFER, YIELD_THRESHOLD)
}

/// [`ProstCodec`] with [`BUFFER`]-sized call buffers.
#[derive(Debug, Clone)]
pub struct Codec1K<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for Codec1K<T, U> {
    fn default() -> Self {
        Codec1K(PhantomData)
    }
}

impl<T, U> Codec for Codec1K<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ProstDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(settings())
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstCodec::<T, U>::raw_decoder(settings())
    }
}
