"""Calls: INVITE -> channel -> dialplan, legs bridged through the media relay."""
