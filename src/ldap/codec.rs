//! Framing of LDAP messages: `ldap3_proto`'s codec, plus the message id and
//! operation of a frame it could not turn into a request. A frame that is
//! well-formed BER but not a valid LDAP request still has its message id,
//! so it can be answered with `protocolError` and the connection go on; BER
//! that cannot be framed at all loses the stream, and the connection ends.

use bytes::BytesMut;
use ldap3_proto::proto::{
    LdapBindResponse, LdapExtendedResponse, LdapMsg, LdapOp, LdapResult, LdapResultCode,
};
use ldap3_proto::LdapCodec;
use tokio_util::codec::{Decoder, Encoder};

/// What a frame turned out to be. (A frame moves once, from the codec to
/// the loop: boxing the request would cost an allocation per request.)
#[allow(clippy::large_enum_variant)]
pub enum Frame {
    Request(LdapMsg),
    /// A whole frame that is not a valid request: its message id and the
    /// tag of the operation it claimed to be.
    Invalid {
        msgid: i32,
        op: u8,
    },
}

pub struct Codec(LdapCodec);

impl Codec {
    pub fn new(max_pdu_bytes: usize) -> Codec {
        Codec(LdapCodec::new(Some(max_pdu_bytes), None))
    }
}

/// The BER length at the start of `b`: (length, bytes the length took).
fn ber_length(b: &[u8]) -> Option<(usize, usize)> {
    let first = *b.first()?;
    if first < 0x80 {
        return Some((first as usize, 1));
    }
    let n = (first & 0x7f) as usize;
    if n == 0 || n > 4 || b.len() < 1 + n {
        return None;
    }
    let len = b[1..=n]
        .iter()
        .fold(0usize, |acc, x| (acc << 8) | *x as usize);
    Some((len, 1 + n))
}

/// The message id and operation tag of an LDAPMessage frame, read from its
/// first bytes: `SEQUENCE { INTEGER messageID, [APPLICATION n] … }`.
fn header(b: &[u8]) -> Option<(i32, u8)> {
    if *b.first()? != 0x30 {
        return None;
    }
    let (_, used) = ber_length(&b[1..])?;
    let mut at = 1 + used;
    if *b.get(at)? != 0x02 {
        return None;
    }
    let (len, used) = ber_length(&b[at + 1..])?;
    at += 1 + used;
    if len == 0 || len > 4 || b.len() < at + len {
        return None;
    }
    let value = &b[at..at + len];
    let mut id: i64 = if value[0] & 0x80 != 0 { -1 } else { 0 };
    for x in value {
        id = (id << 8) | *x as i64;
    }
    let op = *b.get(at + len)?;
    i32::try_from(id).ok().map(|id| (id, op))
}

impl Decoder for Codec {
    type Item = Frame;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, Self::Error> {
        let before = buf.len();
        let head = header(buf);
        match self.0.decode(buf) {
            Ok(Some(msg)) => Ok(Some(Frame::Request(msg))),
            Ok(None) => Ok(None),
            // The codec consumed the frame before finding it invalid: the
            // stream is still in step, and the frame's id is known.
            Err(_) if buf.len() < before && head.is_some_and(|(id, _)| id > 0) => {
                let (msgid, op) = head.expect("checked");
                Ok(Some(Frame::Invalid { msgid, op }))
            }
            Err(e) => Err(e),
        }
    }
}

impl Encoder<LdapMsg> for Codec {
    type Error = std::io::Error;

    fn encode(&mut self, msg: LdapMsg, buf: &mut BytesMut) -> Result<(), Self::Error> {
        self.0.encode(msg, buf)
    }
}

/// The protocolError answer to an invalid request, in the response type its
/// operation calls for; `None` for operations that get no answer (unbind,
/// abandon) or that the server cannot name (then the connection ends).
pub fn protocol_error(msgid: i32, op: u8) -> Option<LdapMsg> {
    let res = LdapResult {
        code: LdapResultCode::ProtocolError,
        matcheddn: String::new(),
        message: "the request is not valid LDAP".into(),
        referral: Vec::new(),
    };
    let op = match op & 0x1f {
        0 => LdapOp::BindResponse(LdapBindResponse {
            res,
            saslcreds: None,
        }),
        3 => LdapOp::SearchResultDone(res),
        6 => LdapOp::ModifyResponse(res),
        8 => LdapOp::AddResponse(res),
        10 => LdapOp::DelResponse(res),
        12 => LdapOp::ModifyDNResponse(res),
        14 => LdapOp::CompareResult(res),
        23 => LdapOp::ExtendedResponse(LdapExtendedResponse {
            res,
            name: None,
            value: None,
        }),
        _ => return None,
    };
    Some(LdapMsg::new(msgid, op))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_header_of_a_frame() {
        // bindRequest, message id 5.
        let bind = [
            0x30, 0x0c, 0x02, 0x01, 0x05, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
        ];
        assert_eq!(header(&bind), Some((5, 0x60)));
        // A two-byte message id, long-form length.
        let long = [0x30, 0x81, 0x0d, 0x02, 0x02, 0x01, 0x00, 0x60, 0x07];
        assert_eq!(header(&long), Some((256, 0x60)));
        assert_eq!(header(&[0x31, 0x00]), None);
        assert_eq!(header(&[0x30, 0x03, 0x04, 0x01, 0x00]), None);
    }
}
