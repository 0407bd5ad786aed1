"""The published example of the reference template, as a Retrospective.

表1/表2/表3/表4 are the published rows (the packed 表1 row unpacked into its three
goals). The reference gives no previous values or money amounts: the 往期值 are
chosen to reproduce the published 环比 (+50% / +30% / +25%) and the 成本收益 lines
follow the air-conditioner review's 60/30/10 budget split, scaled so that ROI is
the published 1:3.8.
"""

from __future__ import annotations

from datetime import date

from .model import Link, Retrospective


def demo_retrospective() -> Retrospective:
    return Retrospective(
        info={"campaign": "2024夏季新品推广", "start": date(2024, 6, 1), "end": date(2024, 6, 15),
              "owner": "张经理", "review_date": date(2024, 6, 18)},
        tables={
            "goals": [
                {"goal": "线上曝光量", "unit": "次", "direction": "越高越好", "target": 1_000_000, "actual": 1_200_000},
                {"goal": "新品销量", "unit": "件", "direction": "越高越好", "target": 5000, "actual": 6200},
                {"goal": "新增会员数", "unit": "人", "direction": "越高越好", "target": 2000, "actual": 1800},
            ],
            "indicators": [
                {"type": "流量", "indicator": "曝光量", "unit": "次", "direction": "越高越好", "target": 1_000_000,
                 "actual": 1_200_000, "previous": 800_000, "source": "后台数据",
                 "analysis": "短视频渠道爆款内容带动，自然流量占比60%"},
                {"type": "转化", "indicator": "新品转化率", "unit": "%", "direction": "越高越好", "target": 0.05,
                 "actual": 0.062, "previous": 0.0477, "source": "后台数据",
                 "analysis": "限时折扣叠加赠品，决策路径缩短"},
                {"type": "成本", "indicator": "ROI（投入产出比）", "unit": "1:x", "direction": "越高越好", "target": 3,
                 "actual": Link("retro_roi"), "previous": 3.04, "source": "成本收益表",
                 "analysis": "精准投放降低获客成本，客单价提升15%"},
            ],
            "actions": [
                {"problem": "线下到店转化率未达标（90%）", "impact": "中", "root_cause": "福利设置未匹配核心用户需求",
                 "measure": "增加“到店专属体验券”，预调研用户偏好", "owner": "赵运营", "deadline": date(2024, 7, 31),
                 "status": "进行中"},
                {"problem": "客服响应超时率20%", "impact": "高", "root_cause": "人力配置不足，话术不统一",
                 "measure": "增派临时客服，统一培训话术", "owner": "钱主管", "deadline": date(2024, 6, 21),
                 "status": "已完成"},
            ],
            "lessons": [
                {"category": "策略层面", "content": "“KOL+素人”矩阵式投放，覆盖多圈层用户",
                 "scenario": "新品推广、品牌曝光", "standard": "制定《KOL合作筛选标准》"},
                {"category": "执行层面", "content": "提前1周进行全流程彩排，避免物料、流程漏洞",
                 "scenario": "大型线下活动、线上直播", "standard": "新增《活动彩排检查清单》"},
            ],
            "costs": [
                {"item": "广告投放", "budget": 600_000, "spent": 600_000},
                {"item": "地推执行", "budget": 300_000, "spent": 300_000},
                {"item": "其他", "budget": 100_000, "spent": 100_000},
            ],
            "returns": [
                {"item": "直接销售额", "amount": 3_800_000, "note": "活动期间新品直接销售额"},
            ],
        },
    )
