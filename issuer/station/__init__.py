"""The issuance station (issue 5): a PC/SC encoder personalises the chip of each card the
issuer queued, and the card's artwork is printed. It runs on its own machine and talks to
the issuer service over HTTP with its API key (client.py); runner.py does one card;
cli.py is `ssc-issuer station run|jobs|spoil`."""
