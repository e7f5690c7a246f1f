"""XML-RPC bodies from strangers, parsed safely (defusedxml), for both directions:
the collector calling `pingback.extensions.getPingbacks` and the receiver answering
`pingback.ping`.

`xmlrpc.client.loads` uses expat with entity expansion on: an XML bomb (billion laughs) or an
external entity would be expanded. Here the same unmarshaller runs behind defusedxml's parser,
which refuses DTDs, entity declarations and external references before any expansion.
"""

from __future__ import annotations

import xmlrpc.client
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.xmlrpc import DefusedExpatParser

# Pingback 1.0 fault codes (http://www.hixie.ch/specs/pingback/pingback#TOC3)
GENERIC = 0x0
SOURCE_NOT_FOUND = 0x10
SOURCE_NO_LINK = 0x11
TARGET_NOT_FOUND = 0x20
TARGET_NOT_USABLE = 0x21
ALREADY_REGISTERED = 0x30
ACCESS_DENIED = 0x31
UPSTREAM_ERROR = 0x32
# XML-RPC interoperability fault codes (http://xmlrpc-epi.sourceforge.net/specs/rfc.fault_codes.php)
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602


class XmlRpcParseError(ValueError):
    """The body is not a well-formed, safe XML-RPC document."""


def loads(data: bytes) -> tuple[tuple[Any, ...], str | None]:
    """(params, method name) of an XML-RPC request or response. A response that is a fault
    raises `xmlrpc.client.Fault`; a malformed or dangerous body raises `XmlRpcParseError`."""
    unmarshaller = xmlrpc.client.Unmarshaller()
    parser = DefusedExpatParser(unmarshaller, forbid_dtd=True)
    try:
        parser.feed(data)
        parser.close()
        params = unmarshaller.close()
    except xmlrpc.client.Fault:
        raise
    except DefusedXmlException as exc:
        raise XmlRpcParseError(f"refused: {type(exc).__name__}") from None
    except Exception as exc:  # expat errors, unmarshalling errors on junk
        raise XmlRpcParseError(f"not well-formed XML-RPC ({type(exc).__name__}: {exc})") from None
    return params, unmarshaller.getmethodname()


def dumps_call(method: str, *params: Any) -> bytes:
    return xmlrpc.client.dumps(params, method, encoding="utf-8").encode("utf-8")


def dumps_response(value: Any) -> bytes:
    return xmlrpc.client.dumps((value,), methodresponse=True, encoding="utf-8").encode("utf-8")


def dumps_fault(code: int, message: str) -> bytes:
    fault = xmlrpc.client.Fault(code, message)
    return xmlrpc.client.dumps(fault, methodresponse=True, encoding="utf-8").encode("utf-8")
