"""Citizen service: sign-in, my licences, presentations and QR codes, who checked my licence."""
