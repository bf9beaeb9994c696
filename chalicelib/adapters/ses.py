"""The SES mailer: raw MIME through SendRawEmail, SES errors mapped to MailThrottled/MailRejected/MailUncertain.
"""

from __future__ import annotations

from typing import Any

from chalicelib.errors import MailRejected, MailThrottled, MailUncertain
from chalicelib.model.mail import Mail
from chalicelib.ports import Mailer
from chalicelib.render.mime import build_mime


class SesMailer(Mailer):
    """Sends raw MIME through SES (v1 SendRawEmail)."""

    THROTTLE_CODES = {"Throttling", "ThrottlingException", "ServiceUnavailable", "InternalFailure",
                      "RequestTimeout", "TooManyRequestsException"}

    def __init__(self, client: Any, sender: str, configuration_set: str = ""):
        self.client = client
        self.sender = sender
        self.configuration_set = configuration_set

    def send(self, mail: Mail) -> str:
        from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError

        raw = build_mime(mail, self.sender)
        kwargs: dict[str, Any] = {"Source": self.sender, "Destinations": [mail.to_email], "RawMessage": {"Data": raw}}
        if self.configuration_set:
            kwargs["ConfigurationSetName"] = self.configuration_set
        try:
            reply = self.client.send_raw_email(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code", ""), error.get("Message", "")
            if code in self.THROTTLE_CODES or "rate exceeded" in message.lower():
                raise MailThrottled(code) from exc
            raise MailRejected(code) from exc
        except HTTPClientError as exc:  # the request went out; the answer did not come back
            raise MailUncertain(type(exc).__name__) from exc
        except BotoCoreError as exc:  # never reached SES: no connection, no credentials
            raise MailThrottled(type(exc).__name__) from exc
        return reply["MessageId"]
