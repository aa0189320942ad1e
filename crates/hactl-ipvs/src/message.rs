//! One IPVS generic-netlink message: a command and its attributes.

use crate::nla::CmdAttr;
use netlink_packet_core::{DecodeError, Emitable, NlasIterator, Parseable, ParseableParametrized};
use netlink_packet_generic::{GenlFamily, GenlHeader};

/// `IPVS_GENL_VERSION`.
const IPVS_GENL_VERSION: u8 = 1;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpvsMessage {
    /// `IPVS_CMD_*` (see [`crate::nla`]).
    pub cmd: u8,
    pub attrs: Vec<CmdAttr>,
}

impl GenlFamily for IpvsMessage {
    fn family_name() -> &'static str {
        "IPVS"
    }
    fn command(&self) -> u8 {
        self.cmd
    }
    fn version(&self) -> u8 {
        IPVS_GENL_VERSION
    }
}

impl Emitable for IpvsMessage {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }
    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        let attrs = NlasIterator::new(buf)
            .map(|nla| nla.and_then(|nla| CmdAttr::parse(&nla)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(IpvsMessage {
            cmd: header.cmd,
            attrs,
        })
    }
}
