"""ISO/IEC 7816-4:2005 codecs: command and response APDUs, status words, BER-TLV.

Pure functions and value types only: no transport, no card state.
"""
