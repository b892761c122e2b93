"""Plain English and Chinese for every reason code the counter page can show.

Keys are the stable code strings of crypto/reasons.py (docs/spec.md §8) and
terminal/reasons.py; a code without an entry falls back to the code itself, and a test
fails if any code of those enumerations is missing here.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum

from crypto.schema import CHINA_TZ

# code -> (English, 简体中文). Written for counter staff: what happened and what to do.
REASON_TEXT: dict[str, tuple[str, str]] = {
    # QR text (spec §5)
    "QR_EMPTY": ("The scan was empty. Scan the code again.", "扫描内容为空，请重新扫描。"),
    "QR_TOO_LONG": ("The scanned text is far too long to be a card code.", "扫描内容过长，不是社保卡二维码。"),
    "QR_PREFIX": ("This is not a social security card code (another QR code).", "这不是社保卡二维码（其他二维码）。"),
    "QR_LOWERCASE": ("The scanner changed the letter case. Check its settings (Caps Lock, keyboard layout).",
                     "扫描器改变了字母大小写，请检查扫描器设置（大写锁定、键盘布局）。"),
    "QR_WHITESPACE": ("The scan contains line breaks or spaces where none belong. Scan again.",
                      "扫描内容中有多余的换行或空格，请重新扫描。"),
    "QR_CHARACTER": ("The scan contains characters a card code never has.", "扫描内容含有社保卡二维码不会出现的字符。"),
    "BASE45_LENGTH": ("The code is cut short or damaged.", "二维码内容不完整或已损坏。"),
    "BASE45_VALUE": ("The code is damaged.", "二维码内容已损坏。"),
    # CBOR and COSE (spec §2, §3)
    "CBOR_MALFORMED": ("The card data is damaged.", "卡内数据已损坏。"),
    "CBOR_TRAILING_BYTES": ("The card data has extra bytes: it was altered.", "卡内数据有多余内容，已被篡改。"),
    "CBOR_DUPLICATE_KEY": ("The card data is altered (a field appears twice).", "卡内数据已被篡改（字段重复）。"),
    "CBOR_NOT_DETERMINISTIC": ("The card data is not in its canonical form.", "卡内数据不是规范编码。"),
    "CBOR_TOO_LARGE": ("The card data is larger than any genuine card's.", "卡内数据超出正常社保卡的大小。"),
    "COSE_UNTAGGED": ("The signed data has the wrong form.", "签名数据格式错误。"),
    "COSE_WRONG_TAG": ("The signed data has the wrong form.", "签名数据格式错误。"),
    "COSE_STRUCTURE": ("The signed data has the wrong structure.", "签名数据结构错误。"),
    "COSE_HEADER": ("The signature header is not acceptable.", "签名头不符合要求。"),
    "COSE_ALG_MISSING": ("The signature does not say how it was made.", "签名未注明签名算法。"),
    "COSE_ALG_UNPROTECTED": ("The signature algorithm is not protected by the signature.", "签名算法未受签名保护。"),
    "COSE_ALG_UNKNOWN": ("The signature uses an unknown algorithm.", "签名使用了未知算法。"),
    "COSE_KID": ("The signature does not name its key correctly.", "签名未正确标明密钥。"),
    "COSE_SIGNATURE_LENGTH": ("The signature has the wrong length.", "签名长度错误。"),
    "COSE_DETACHED_PAYLOAD": ("The signed data is missing.", "缺少被签名的数据。"),
    # claims (spec §4)
    "CLAIMS_STRUCTURE": ("The card data has the wrong structure.", "卡内数据结构错误。"),
    "CLAIMS_TYPE": ("A card data field has the wrong type.", "卡内数据字段类型错误。"),
    "CLAIMS_MISSING": ("A required card data field is missing.", "缺少必需的卡内数据字段。"),
    "CLAIMS_UNKNOWN_KEY": ("The card data has a field this terminal does not know.", "卡内数据含有本终端不认识的字段。"),
    "CLAIMS_VALUE": ("A card data field has an impossible value.", "卡内数据字段的值不合理。"),
    "SCHEMA_INVALID": ("The card data breaks a content rule.", "卡内数据不符合内容规则。"),
    # verification (spec §7)
    "ALG_NOT_ALLOWED": ("The signature algorithm is not accepted by this terminal.", "本终端不接受该签名算法。"),
    "KID_UNKNOWN": ("The card was signed by an issuer this terminal does not know. Sync the trust list.",
                    "该卡的签发机构不在本终端的信任列表中，请同步信任列表。"),
    "SIGNATURE_INVALID": ("The signature is false: the card data was altered or forged.",
                          "签名无效：卡内数据被篡改或伪造。"),
    "CERT_NOT_CHAINED": ("The issuer certificate is not issued by the national root.", "签发证书不是由根证书签发的。"),
    "CERT_NOT_VALID_AT_IAT": ("The issuer certificate was not valid when the card was signed.",
                              "签卡时签发证书不在有效期内。"),
    "CERT_WRONG_USAGE": ("The issuer certificate may not sign cards.", "该签发证书无权签发社保卡。"),
    "CERT_MALFORMED": ("The issuer certificate is malformed.", "签发证书格式错误。"),
    "IAT_OUTSIDE_KEY_USAGE": ("The card was signed outside the signing key's period of use.",
                              "该卡的签发时间不在签名密钥的使用期内。"),
    "IAT_IN_FUTURE": ("The card is dated in the future. Check this terminal's clock.", "该卡的签发时间在未来，请检查本终端时钟。"),
    "CREDENTIAL_EXPIRED": ("The card has expired.", "该卡已过期。"),
    "CREDENTIAL_NOT_YET_VALID": ("The card is not valid yet. Check this terminal's clock.", "该卡尚未生效，请检查本终端时钟。"),
    "REVOKED": ("The card has been revoked (reported lost, replaced or cancelled). Do not accept it.",
                "该卡已被注销（挂失、补换或撤销），请勿受理。"),
    "REVOCATION_STALE": ("This terminal's revocation data is too old. Connect it and sync.",
                         "本终端的注销名单已过期，请联网同步。"),
    "REVOCATION_MISSING": ("This terminal holds no trust list. Sync it first.", "本终端没有信任列表，请先同步。"),
    "INTERNAL_ERROR": ("The terminal failed while checking. The card was not accepted.", "终端校验时出错，未受理该卡。"),
    # trust list (spec §6)
    "TL_MALFORMED": ("The downloaded trust list is malformed; the old one is kept.", "下载的信任列表格式错误，继续使用原列表。"),
    "TL_SIGNATURE": ("The downloaded trust list has a false signature; the old one is kept.",
                     "下载的信任列表签名无效，继续使用原列表。"),
    "TL_SIGNER": ("The downloaded trust list is not signed by a trusted signer; the old one is kept.",
                  "下载的信任列表签名者不受信任，继续使用原列表。"),
    "TL_ROLLBACK": ("The downloaded trust list is older than the one held; it was refused.",
                    "下载的信任列表比现有的旧，已拒绝。"),
    "TL_NOT_YET_VALID": ("The trust list is not valid yet.", "信任列表尚未生效。"),
    "TL_REVOCATION_MALFORMED": ("The revocation data in the trust list is malformed; the old list is kept.",
                                "信任列表中的注销数据格式错误，继续使用原列表。"),
    "TL_DELTA_CHAIN": ("The revocation update does not follow the data held; a full list is needed.",
                       "注销数据增量与现有数据不衔接，需要下载完整列表。"),
    # e-card presentations (spec §12)
    "ECARD_FORMAT": ("The e-card code is damaged or not an e-card code.", "电子社保卡二维码已损坏或格式不符。"),
    "ECARD_DEVICE_SIGNATURE": ("The e-card code was not made by the phone the e-card was issued to: a copy. "
                               "Do not accept it.", "该二维码不是由电子社保卡绑定的手机生成的（复制品），请勿受理。"),
    "ECARD_PURPOSE": ("The holder opened the e-card for another kind of counter. Ask them to show it for this one.",
                      "持卡人出示的电子社保卡用途与本窗口不符，请按本窗口用途重新出示。"),
    "ECARD_STALE": ("The e-card code is too old: a screenshot, or the phone's clock is wrong. Ask for the live code.",
                    "电子社保卡二维码已过时（截图，或手机时间不准），请出示实时二维码。"),
    "ECARD_FUTURE": ("The e-card code is dated in the future. Check the phone's and this terminal's clocks.",
                     "电子社保卡二维码时间在未来，请检查手机和本终端的时钟。"),
    "ECARD_REPLAYED": ("This e-card code was already used here: a copy. Ask the holder to show the live code again.",
                       "该电子社保卡二维码已在本终端使用过（复制品），请持卡人重新出示实时二维码。"),
    "ECARD_CHALLENGE_REQUIRED": ("This terminal needs a challenge: show the holder a challenge code to answer.",
                                 "本终端需要挑战码：请向持卡人出示挑战码，由其手机应答。"),
    "ECARD_CHALLENGE_UNKNOWN": ("The e-card answers a challenge this terminal did not show, or one already used.",
                                "该电子社保卡应答的挑战码不是本终端出示的，或已被使用。"),
    "ECARD_CHALLENGE_EXPIRED": ("The challenge has expired. Show a new challenge.", "挑战码已过期，请出示新的挑战码。"),
    # keys (issuer side; listed so that every code has a text)
    "KEY_FILE": ("A key file is missing or unreadable.", "密钥文件缺失或无法读取。"),
    "KEY_PASSPHRASE": ("A key's passphrase is wrong.", "密钥口令错误。"),
    "KEY_TYPE": ("A key has the wrong type.", "密钥类型错误。"),
    "SIGNER_FAILED": ("The signing device failed.", "签名设备出错。"),
    "HSM_UNAVAILABLE": ("The signing device cannot be reached.", "无法连接签名设备。"),
    # terminal input (terminal/reasons.py)
    "IMAGE_UNREADABLE": ("The picture cannot be read.", "无法读取该图片。"),
    "IMAGE_TOO_LARGE": ("The picture is too large.", "图片过大。"),
    "QR_NOT_FOUND": ("No QR code found. Hold the code flat and fill the frame.", "未找到二维码，请将二维码放平并充满画面。"),
    "QR_SEVERAL": ("Several QR codes in view. Show one at a time.", "画面中有多个二维码，请一次只出示一个。"),
    "BARCODE_NOT_QR": ("This is a barcode of another kind, not the card's QR code.", "这是其他类型的条码，不是社保卡二维码。"),
    "SCAN_OVERSIZE": ("The scanner sent far more than a card code holds.", "扫描器发送的内容超过社保卡二维码的容量。"),
    "SCAN_INCOMPLETE": ("The scan was cut off. Scan again.", "扫描中断，请重新扫描。"),
    "SCAN_UNDECODABLE": ("The scanner sent unreadable bytes. Check its settings.", "扫描器发送了无法识别的内容，请检查设置。"),
    # site policy
    "POLICY_CARD_EXPIRED": ("The card is past its expiry date.", "该卡已超过有效期。"),
    "POLICY_INSURANCE_NOT_ENROLLED": ("The holder is not enrolled in medical insurance.", "持卡人未参加医疗保险。"),
    "POLICY_INSURANCE_STATUS": ("Medical insurance is suspended or terminated.", "医疗保险已暂停或终止。"),
    "POLICY_INSURANCE_UNPAID": ("Medical insurance is not paid up to date.", "医疗保险未按时缴费。"),
    "POLICY_PERMIT_STATUS": ("The work permit is suspended or cancelled.", "工作许可已暂停或注销。"),
    "POLICY_PERMIT_NOT_YET_VALID": ("The work permit is not valid yet.", "工作许可尚未生效。"),
    "POLICY_PERMIT_EXPIRED": ("The work permit has expired.", "工作许可已过期。"),
    "POLICY_DATA_MISSING": ("The data this site must check was not read.", "未读取到本场所必须核验的数据。"),
    "POLICY_SOURCE_NOT_ACCEPTED": ("This site does not accept this kind of card presentation.", "本场所不接受此种出示方式。"),
    # chip checks (firmware_tools.reader.ChipReason)
    "CHIP_FILE_MALFORMED": ("A file on the chip is damaged or not in the card's format.", "芯片中的文件已损坏或格式不符。"),
    "CHIP_DIGEST_MISMATCH": ("The chip data was altered: it does not match what the issuer signed.",
                             "芯片数据已被篡改，与签发机构签名的数据不符。"),
    "CHIP_NOT_GENUINE": ("The chip is not the one that was issued: a copied card. Do not accept it.",
                         "芯片不是原签发的芯片（复制卡），请勿受理。"),
    "CHIP_NOT_ISSUED": ("The card was never finished at the issuance centre.", "该卡未在制卡中心完成个人化。"),
    "CHIP_TERMINATED": ("The card has been cancelled.", "该卡已注销。"),
    # the chip's security object (spec §10.2)
    "SO_TYPE": ("The chip's signed file list has a field of the wrong type: the chip data is damaged or forged.",
                "芯片签名文件清单的字段类型错误：芯片数据已损坏或伪造。"),
    "SO_MISSING": ("The chip's signed file list lacks a required entry: the chip data is damaged or forged.",
                   "芯片签名文件清单缺少必需的内容：芯片数据已损坏或伪造。"),
    "SO_UNKNOWN_KEY": ("The chip's signed file list has an entry this terminal does not know.",
                       "芯片签名文件清单含有本终端不认识的内容。"),
    "SO_VALUE": ("The chip's signed file list has an impossible value (version, digest, issuer).",
                 "芯片签名文件清单的值不合理（版本、摘要或签发机构）。"),
    # chip reads
    "CARD_REMOVED": ("The card was removed. Insert it again.", "卡片已被拔出，请重新插入。"),
    "CARD_UNREADABLE": ("The card does not answer properly. Insert it again; if it keeps failing, refuse it.",
                        "卡片应答异常，请重新插入；如仍失败，请勿受理。"),
    "READER_UNAVAILABLE": ("The card reader is not available.", "读卡器不可用。"),
}

OUTCOME_TEXT = {
    "VALID": ("VALID", "有效"),
    "INVALID": ("INVALID", "无效"),
    "INDETERMINATE": ("CANNOT DECIDE", "无法判定"),
    "NO_VERDICT": ("TRY AGAIN", "请重试"),
}


def reason_text(code: str | Enum) -> tuple[str, str]:
    """(English, Chinese) for a reason code; unknown codes are shown as they are."""
    key = code.value if isinstance(code, Enum) else str(code)
    return REASON_TEXT.get(key, (f"Reason {key}.", f"原因代码 {key}。"))


def china_time(epoch_seconds: float) -> dict[str, str]:
    """A moment as the counter reads it: China Standard Time (Asia/Shanghai, UTC+8 without
    daylight saving since 1991: the fixed offset the claims' dates use), in each of the page's
    two languages, 24-hour clock: ``3 Dec 2026, 14:15:49 China time`` / ``2026年12月3日 14:15:49 北京时间``."""
    t = dt.datetime.fromtimestamp(epoch_seconds, CHINA_TZ)
    return {"en": f"{t.day} {t:%b %Y, %H:%M:%S} China time",
            "zh": f"{t.year}年{t.month}月{t.day}日 {t:%H:%M:%S} 北京时间"}
