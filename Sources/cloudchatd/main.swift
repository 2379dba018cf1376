print("cloudchatd")
