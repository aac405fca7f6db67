print("wangge")
