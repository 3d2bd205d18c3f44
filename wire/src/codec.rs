//! tokio-util `Decoder`/`Encoder` adapters (feature `tokio`).

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use crate::decoder::MessageDecoder;
use crate::error::Error;
use crate::handshake::{Handshake, HandshakeDecoder};
use crate::message::Message;

/// The message codec for `tokio_util::codec::Framed`: decodes with a [`MessageDecoder`],
/// encodes with [`Message::encode`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageCodec {
    /// The decoder (its maximum length can be changed through it).
    pub decoder: MessageDecoder,
}

impl MessageCodec {
    /// A codec whose decoder is `decoder`.
    pub fn new(decoder: MessageDecoder) -> Self {
        MessageCodec { decoder }
    }
}

impl Decoder for MessageCodec {
    type Item = Message;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, Error> {
        self.decoder.decode(src)
    }
}

impl Encoder<Message> for MessageCodec {
    type Error = Error;

    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), Error> {
        dst.reserve(item.encoded_len());
        item.encode(dst);
        Ok(())
    }
}

impl Encoder<&Message> for MessageCodec {
    type Error = Error;

    fn encode(&mut self, item: &Message, dst: &mut BytesMut) -> Result<(), Error> {
        dst.reserve(item.encoded_len());
        item.encode(dst);
        Ok(())
    }
}

impl Decoder for HandshakeDecoder {
    type Item = Handshake;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Handshake>, Error> {
        HandshakeDecoder::decode(self, src)
    }
}

impl Encoder<Handshake> for HandshakeDecoder {
    type Error = Error;

    fn encode(&mut self, item: Handshake, dst: &mut BytesMut) -> Result<(), Error> {
        item.encode(dst);
        Ok(())
    }
}
