"""Writes tiktok_douyin.ndjson: a Zeeschuimer export of TikTok and Douyin captures about the zouxian route.

Run from the repo root: `python tests/data/zeeschuimer/make_ndjson.py`. Deterministic: same file every
run. The captions are written for these tests (not taken from any platform). Each line is one capture
as Zeeschuimer exports it (id, nav_index, item_id, timestamp_collected in ms, source_platform,
source_platform_url, source_url, user_agent, data = the platform's raw item). The file also holds one
repeat capture of a TikTok video (seen again on a hashtag page) and three bad lines.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

OUT = Path(__file__).with_name("tiktok_douyin.ndjson")
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
T0 = 1788220800  # 2026-09-01T00:00:00Z
COLLECTED = 1792483200000  # 2026-10-20T08:00:00Z, in milliseconds as Zeeschuimer writes it

TIKTOK = [
    ("ruta.norte.2026", "第一天到基多，机场出来打车去老城区，住一晚 25 美元。#走线 #厄瓜多尔"),
    ("ruta.norte.2026", "基多到图尔坎的大巴，早上六点发车，票价 15 美元左右 #走线日记"),
    ("zx_laowang", "图尔坎过桥到伊皮亚莱斯，排队盖章等了三个小时 #哥伦比亚"),
    ("zx_laowang", "麦德林转车去内科克利，大巴坐了十二个小时 #走线"),
    ("camino.al.norte", "Necoclí beach camp, waiting for the boat ticket. 40 dollars each #darien #migration"),
    ("xiao_lu_walks", "内科克利的船票，每人 40 美元，救生衣要自己买 #走线 #达连"),
    ("xiao_lu_walks", "达连第一天，上山的路全是泥 #达连丛林 #走线"),
    ("xiao_lu_walks", "达连第二天，过河水到腰，背包一定要防水 #走线"),
    ("camino.al.norte", "Día tres en el Darién, llegamos al río y esperamos al guía #darien #ruta"),
    ("darien_diary", "出丛林了，巴拿马营地登记，发了手环 #巴拿马 #走线"),
    ("darien_diary", "巴拿马营地到哥斯达黎加边境的大巴 60 美元 #走线"),
    ("zx_laowang", "哥斯达黎加到尼加拉瓜，坐了一夜车 #走线日记"),
    ("zx_laowang", "尼加拉瓜过境要交 150 美元，不要跟陌生人走 #尼加拉瓜"),
    ("ruta.norte.2026", "洪都拉斯拿到通行纸，五天有效 #洪都拉斯 #走线"),
    ("ruta.norte.2026", "危地马拉路上被拦了两次，每次要 50 美元 #危地马拉"),
    ("camino.al.norte", "Tapachula, long line at the migration office again today #mexico #tapachula"),
    ("xiao_lu_walks", "塔帕丘拉办文件，等了一个星期 #墨西哥 #走线"),
    ("xiao_lu_walks", "墨西哥城坐飞机去蒂华纳，要有证件 #墨西哥"),
    ("darien_diary", "蒂华纳到边境墙，晚上走了两个小时 #美墨边境"),
    ("darien_diary", "雅坤巴温泉附近的墙缝，过去就自首 #走线 #美国"),
    ("ruta.norte.2026", "走线总花费算下来大概 8000 美元，给大家参考 #走线 #费用"),
    ("zx_laowang", "带孩子走线的一定要准备好药品和干粮 #走线 #亲子"),
    ("camino.al.norte", "Lo que nadie te dice de la ruta: guarda tu pasaporte en bolsa plástica #ruta #migrantes"),
    ("ruta.norte.2026", "厄瓜多尔免签政策 2024 年 7 月已经取消了，现在要签证 #厄瓜多尔 #签证"),
    ("xiao_lu_walks", "有人说达连三天就能走完，我们走了五天 #达连丛林"),
    ("zx_laowang", "哥伦比亚警察查证件，态度还可以 #哥伦比亚"),
    ("darien_diary", "在巴拿马营地充电要排队，一次一美元 #巴拿马"),
    ("ruta.norte.2026", "今天在墨西哥的检查站没有被要钱 #墨西哥 #检查站"),
    ("xiao_lu_walks", "下雨天的丛林，鞋子全湿了 #达连 #走线"),
    ("darien_diary", "到美国了，感谢一路上帮忙的人 #走线 #美国"),
    ("zx_laowang", "上海飞伊斯坦布尔再转基多，机票一万二 #走线 #机票"),
    ("camino.al.norte", "Crossing from Colombia to Panama by boat, 2 hours on rough sea #darien"),
]

DOUYIN = [
    ("zouxian_ji", "走线第一站：厄瓜多尔基多，物价不算贵 #走线"),
    ("zouxian_ji", "从基多坐车去哥伦比亚边境，路上很顺利 #走线"),
    ("beishang88", "哥伦比亚的大巴很舒服，十个小时到麦德林 #走线"),
    ("beishang88", "内科克利等船，海边的帐篷营地 #达连"),
    ("lu_shang_de_ren", "达连丛林里最难的是那座山 #达连丛林"),
    ("lu_shang_de_ren", "丛林里看到很多丢下的背包和鞋 #走线"),
    ("zouxian_ji", "巴拿马的营地吃的是米饭和豆子 #巴拿马"),
    ("beishang88", "哥斯达黎加坐大巴到尼加拉瓜边境 #走线"),
    ("", "洪都拉斯的通行证办理流程 #洪都拉斯"),
    ("lu_shang_de_ren", "危地马拉过河去墨西哥，坐的是筏子 #危地马拉"),
    ("beishang88", "墨西哥的警察拦车，要了 200 美元 #墨西哥 #走线"),
    ("zouxian_ji", "塔帕丘拉的移民局门口排长队 #墨西哥"),
    ("lu_shang_de_ren", "墨西哥坐大巴北上，一路检查站很多 #走线"),
    ("beishang88", "到蒂华纳了，准备最后一段 #走线"),
    ("zouxian_ji", "边境墙那边有人接应，过去就排队等 #美国"),
    ("", "走线费用明细：机票、车票、船票、向导费 #费用"),
    ("lu_shang_de_ren", "走线不是旅游，想清楚再出发 #走线"),
    ("beishang88", "很多人问能不能带老人走线，我的建议是不要 #走线"),
    ("zouxian_ji", "厄瓜多尔到哥伦比亚的边境桥，夜里不要过 #哥伦比亚"),
    ("lu_shang_de_ren", "达连出来第一顿饭，一碗汤五美元 #巴拿马"),
]

NICK = {"ruta.norte.2026": "Ruta Norte", "zx_laowang": "老王在路上", "camino.al.norte": "Camino al Norte",
        "xiao_lu_walks": "小鹿走天涯", "darien_diary": "达连日记", "zouxian_ji": "走线记", "beishang88": "北上88",
        "lu_shang_de_ren": "路上的人", "": "匿名旅人"}


def _h(*parts: object, n: int = 32) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()[:n]  # noqa: S324 - fixture names


def _tags(text: str) -> list[str]:
    return [w[1:] for w in text.split() if w.startswith("#") and len(w) > 1]


def tiktok_item(i: int, handle: str, desc: str) -> dict:
    vid = str(7431029384756102900 + i)
    created = T0 + i * 3 * 3600 * 11
    h = _h("tt", vid)
    play = (f"https://v16-webapp-prime.tiktok.com/video/tos/useast2a/tos-useast2a-ve-0068c001/o{h[:20]}/"
            f"?a=1988&bti=ODszNWYuMDE6&ch=0&cr=3&dr=0&lr=unwatermarked&cd=0%7C0%7C0%7C&cv=1&br=1530&bt=765"
            f"&cs=0&ds=6&ft=4fUEKMvt8Zmo0&mime_type=video_mp4&qs=0&rc={h[20:32]}&vvpl=1&l=2026102000000{i:02d}&btag=e000b8000")
    offset = 0
    text_extra = []
    for tag in _tags(desc):
        start = desc.index("#" + tag, offset)
        offset = start + len(tag) + 1
        text_extra.append({"awemeId": "", "start": start, "end": offset, "hashtagName": tag,
                           "hashtagId": str(1600000000000000000 + int(_h(tag, n=8), 16) % 10**9), "type": 1,
                           "subType": 0, "userId": "", "isCommerce": False, "userUniqueId": "", "secUid": ""})
    lang = "zh" if any("\u4e00" <= c <= "\u9fff" for c in desc) else ("es" if "í" in desc or " de " in desc else "en")
    return {
        "id": vid,
        "desc": desc,
        "createTime": created,
        "scheduleTime": 0,
        "video": {
            "id": vid, "height": 1024, "width": 576, "duration": 20 + (i * 7) % 40, "ratio": "540p",
            "cover": f"https://p16-sign-va.tiktokcdn.com/obj/tos-maliva-p-0068/{h[:24]}?x-expires=1792569600",
            "originCover": f"https://p16-sign-va.tiktokcdn.com/obj/tos-maliva-p-0068/{h[8:32]}?x-expires=1792569600",
            "playAddr": play,
            "downloadAddr": play.replace("lr=unwatermarked", "lr=tiktok_m"),
            "shareCover": [""], "reflowCover": "", "bitrate": 783210, "encodedType": "normal", "format": "mp4",
            "videoQuality": "normal", "codecType": "h264", "definition": "540p",
        },
        "author": {
            "id": str(6800000000000000000 + int(_h("u", handle, n=8), 16) % 10**12), "shortId": "",
            "uniqueId": handle, "nickname": NICK[handle], "signature": "",
            "secUid": "MS4wLjABAAAA" + _h("sec", handle, n=40), "verified": False, "privateAccount": False,
            "avatarThumb": f"https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/{_h('av', handle)}~c5_100x100.jpeg",
        },
        "music": {"id": str(7431000000000000000 + i), "title": f"original sound - {handle}", "authorName": NICK[handle],
                  "original": True, "duration": 20 + (i * 7) % 40, "playUrl": ""},
        "challenges": [{"id": t["hashtagId"], "title": t["hashtagName"], "desc": ""} for t in text_extra],
        "stats": {"diggCount": 40 + i * 37, "shareCount": i * 3, "commentCount": 5 + i * 2, "playCount": 1000 + i * 913,
                  "collectCount": str(i * 11)},
        "statsV2": {"diggCount": str(40 + i * 37), "shareCount": str(i * 3), "commentCount": str(5 + i * 2),
                    "playCount": str(1000 + i * 913), "collectCount": str(i * 11), "repostCount": "0"},
        "warnInfo": [], "originalItem": False, "officalItem": False, "textExtra": text_extra, "secret": False,
        "forFriend": False, "itemCommentStatus": 0, "privateItem": False, "duetEnabled": True, "stitchEnabled": True,
        "isAd": False, "shareEnabled": True, "duetDisplay": 0, "stitchDisplay": 0, "indexEnabled": True,
        "locationCreated": "MX" if "墨西哥" in desc or "Tapachula" in desc else "US",
        "authorStats": {"followerCount": 1200 + len(handle) * 100, "followingCount": 88, "heart": 50231,
                        "heartCount": 50231, "videoCount": 41, "diggCount": 0, "friendCount": 12},
        "textLanguage": lang,
    }


def douyin_aweme(i: int, handle: str, desc: str) -> dict:
    aid = str(7429876543210987600 + i)
    created = T0 + 6 * 3600 + i * 5 * 3600 * 11
    uri = "v0200fg10000" + _h("dy", aid, n=20)
    cdn = f"https://v26-web.douyinvod.com/{_h('k', aid)}/6717f0a2/video/tos/cn/tos-cn-ve-15c001-alinc2/{_h('o', aid, n=30)}/"
    text_extra = [{"start": desc.index("#" + t), "end": desc.index("#" + t) + len(t) + 1, "type": 1,
                   "hashtag_name": t, "hashtag_id": str(1580000000000000000 + int(_h(t, n=8), 16) % 10**9),
                   "is_commerce": False} for t in _tags(desc)]
    return {
        "aweme_id": aid,
        "desc": desc,
        "create_time": created,
        "author": {
            "uid": str(95000000000 + int(_h("uid", handle, n=8), 16) % 10**9), "short_id": str(1880000000 + i),
            "unique_id": handle, "nickname": NICK[handle], "signature": "",
            "sec_uid": "MS4wLjABAAAA" + _h("dysec", handle, n=40), "region": "CN", "follow_status": 0,
        },
        "music": {"id": 7429000000000000000 + i, "title": f"@{NICK[handle]}创作的原声", "author": NICK[handle]},
        "video": {
            "play_addr": {
                "uri": uri,
                "url_list": [
                    f"{cdn}?a=6383&ch=26&cr=3&dr=0&lr=all&cd=0%7C0%7C0%7C3&cv=1&br=1029&bt=1029&cs=0&ds=4&ft=LjhJEL998xIouEkmo0P5H4eaciDXt9.SNAzCS&mime_type=video_mp4&qs=0&rc={_h('rc', aid, n=16)}&btag=80000e00010000&dy_q=1792483200&l=2026102008000{i:02d}",
                    f"https://www.douyin.com/aweme/v1/play/?video_id={uri}&line=0&file_id={_h('f', aid)}&sign={_h('s', aid)}&is_play_url=1&source=PackSourceEnum_SEARCH",
                ],
                "width": 720, "height": 1280, "data_size": 2100000 + i * 1000, "file_hash": _h("fh", aid),
            },
            "cover": {"uri": "tos-cn-p-0015/" + _h("c", aid), "url_list": [f"https://p3-pc-sign.douyinpic.com/tos-cn-p-0015/{_h('c', aid)}~tplv-dy-resize-origshort-autoq-75:330.jpeg"]},
            "height": 1280, "width": 720, "ratio": "720p", "duration": 15000 + (i * 3137) % 45000, "format": "mp4",
        },
        "statistics": {"admire_count": 0, "comment_count": 10 + i * 4, "digg_count": 300 + i * 51, "collect_count": 20 + i,
                       "play_count": 0, "share_count": 7 + i * 2, "aweme_id": aid},
        "text_extra": text_extra,
        "region": "CN",
        "aweme_type": 0,
        "share_info": {"share_url": f"https://www.iesdouyin.com/share/video/{aid}/?region=CN&mid={7429000000000000000 + i}",
                       "share_link_desc": desc},
        "id": aid,
    }


def capture(n: int, platform: str, page: str, api: str, item: dict, offset_ms: int) -> dict:
    return {"id": n, "nav_index": f"1:{3 if platform == 'tiktok.com' else 5}:0", "item_id": item.get("id"),
            "timestamp_collected": COLLECTED + offset_ms, "source_platform": platform, "source_platform_url": page,
            "source_url": api, "user_agent": UA, "data": item}


def main() -> None:
    tt_page = "https://www.tiktok.com/search?q=%E8%B5%B0%E7%BA%BF&t=1792483190123"
    tt_api = "https://www.tiktok.com/api/search/item/full/?aid=1988&keyword=%E8%B5%B0%E7%BA%BF&offset=0"
    dy_page = "https://www.douyin.com/search/%E8%B5%B0%E7%BA%BF?type=video"
    dy_api = "https://www.douyin.com/aweme/v1/web/search/item/?device_platform=webapp&aid=6383&keyword=%E8%B5%B0%E7%BA%BF"
    lines: list[str] = []
    n = 0
    tt_items = [tiktok_item(i, h, d) for i, (h, d) in enumerate(TIKTOK)]
    for i, item in enumerate(tt_items):
        n += 1
        lines.append(json.dumps(capture(n, "tiktok.com", tt_page, tt_api, item, i * 1500), ensure_ascii=False))
        if i == 11:  # a truncated line, as when the browser was closed mid-export
            lines.append(lines[-1][: len(lines[-1]) // 2])
    for i, (h, d) in enumerate(DOUYIN):
        n += 1
        aweme = douyin_aweme(i, h, d)
        if h == "":  # accounts without a unique_id: Douyin shows the numeric short id
            aweme["author"]["unique_id"] = ""
        lines.append(json.dumps(capture(n, "douyin.com", dy_page, dy_api, aweme, 60000 + i * 1700), ensure_ascii=False))
        if i == 9:  # a capture that lost its item
            bad = capture(n + 1000, "douyin.com", dy_page, dy_api, {}, 0)
            del bad["data"]
            lines.append(json.dumps(bad, ensure_ascii=False))
    # the same TikTok video seen again on the hashtag page: one post, a second sighting
    n += 1
    lines.append(json.dumps(capture(n, "tiktok.com", "https://www.tiktok.com/tag/zouxian", tt_api.replace("search/item/full", "challenge/item_list"),
                                    tt_items[5], 90000), ensure_ascii=False))
    # a TikTok item without its id (E602)
    broken = dict(tt_items[6])
    broken.pop("id")
    n += 1
    lines.append(json.dumps(capture(n, "tiktok.com", tt_page, tt_api, broken, 91000), ensure_ascii=False))
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
